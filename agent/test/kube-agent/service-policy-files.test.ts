import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evaluateFlow, generateKeyPair, loadServicePolicy } from '@meshguard/core';
import { syncServicePolicy } from '../../src/kube-agent/service-policy-files.js';

describe('MeshNode spec.servicePolicy → services/', () => {
  it('writes files the policy loader reads back as the spec says, rewrites only on change, removes them when unset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-service-files-'));
    try {
      const spec = {
        defaultAction: 'deny' as const,
        rules: [
          { action: 'allow' as const, protocol: 'tcp' as const, ports: 8080 },
          { action: 'allow' as const, protocol: 'udp' as const, ports: '5000-5010' },
          { action: 'deny' as const, ports: 0 },
        ],
      };
      assert.equal(syncServicePolicy(dir, spec), true);
      assert.equal(syncServicePolicy(dir, spec), false, 'unchanged: nothing written');
      const loaded = loadServicePolicy(dir);
      assert.deepEqual(loaded.problems, []);
      const peer = generateKeyPair().publicKey;
      const decide = (proto: 'tcp' | 'udp', port: number): string =>
        evaluateFlow(loaded.policy, { proto, port }, peer, undefined).action;
      assert.equal(decide('tcp', 8080), 'allow');
      assert.equal(decide('udp', 5005), 'allow');
      assert.equal(decide('tcp', 22), 'deny');
      assert.equal(decide('udp', 5011), 'deny');
      assert.equal(syncServicePolicy(dir, undefined), true);
      assert.equal(existsSync(join(dir, 'services')), false);
      assert.equal(loadServicePolicy(dir).policy.kind, 'none', 'no policy: everything allowed');
      assert.equal(syncServicePolicy(dir, undefined), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
