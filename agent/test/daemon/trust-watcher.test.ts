import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeOrgMessage, encodePublicKeyFile, signOrgRevoke, type LoadedTrust } from '@meshguard/core';
import { K1, K2, K3 } from '@meshguard/core/testing';
import { TrustWatcher } from '../../src/trust/trust-watcher.js';

const root = mkdtempSync(join(tmpdir(), 'meshguard-watch-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('TrustWatcher', () => {
  it('reloads when a trust file changes, and only then', () => {
    const dir = join(root, 'a');
    mkdirSync(join(dir, 'trusted_orgs'), { recursive: true });
    writeFileSync(join(dir, 'identity.pub'), encodePublicKeyFile(K1.publicKey));
    writeFileSync(join(dir, 'trusted_orgs', 'acme.org'), encodePublicKeyFile(K2.publicKey));
    const seen: LoadedTrust[] = [];
    const w = new TrustWatcher(dir, { now: () => 1000n, open: false }, (l) => seen.push(l));
    assert.equal(w.current.trust.trustedOrgs.length, 1);
    assert.equal(w.check(), false);
    mkdirSync(join(dir, 'authorized_keys'));
    writeFileSync(join(dir, 'authorized_keys', 'k3.pub'), encodePublicKeyFile(K3.publicKey));
    assert.equal(w.check(), true);
    assert.equal(seen.at(-1)?.trust.authorizedName(K3.publicKey), 'k3');
    assert.equal(w.check(), false);
  });

  it('applies a revocation file dropped into revoked/ within a second', async () => {
    const dir = join(root, 'b');
    mkdirSync(join(dir, 'trusted_orgs'), { recursive: true });
    writeFileSync(join(dir, 'trusted_orgs', 'acme.org'), encodePublicKeyFile(K2.publicKey));
    const w = new TrustWatcher(dir, { now: () => 1000n, open: false }, () => undefined);
    w.start();
    try {
      const started = Date.now();
      mkdirSync(join(dir, 'revoked'));
      writeFileSync(join(dir, 'revoked', 'k3.revoke'), encodeOrgMessage(signOrgRevoke(K2, K3.publicKey, 1, 5n)));
      while (!w.current.trust.isRevoked(K2.publicKey, K3.publicKey)) {
        assert.ok(Date.now() - started < 1000, 'revocation not applied within 1 s');
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      w.stop();
    }
  });
});
