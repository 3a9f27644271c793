import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const BIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function meshguard(configDir: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, MESHGUARD_CONFIG_DIR: configDir },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the meshguard executable', () => {
  it('uses MESHGUARD_CONFIG_DIR, writes 0600 keys, and reports errors as one stderr line', () => {
    const root = mkdtempSync(join(tmpdir(), 'meshguard-bin-'));
    try {
      const dir = join(root, 'cfg');
      const ok = meshguard(dir, 'keygen');
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(statSync(join(dir, 'identity.key')).mode & 0o777, 0o600);
      const exported = meshguard(dir, 'export');
      assert.equal(exported.stdout, readFileSync(join(dir, 'identity.pub'), 'latin1'));
      const again = meshguard(dir, 'keygen');
      assert.equal(again.status, 1);
      assert.equal(again.stdout, '');
      assert.equal(again.stderr.trim().split('\n').length, 1);
      assert.match(again.stderr, /^meshguard keygen: .*already exists/);
      const usage = meshguard(dir, 'trust');
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /missing argument \(usage: meshguard trust/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
