import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { controlRequest } from '../../src/daemon/control-client.js';
import { ControlServer } from '../../src/daemon/control-server.js';

const root = mkdtempSync(join(tmpdir(), 'meshguard-ctl-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('control socket', () => {
  it('answers STATUS and PEERS with one JSON line, STOP stops, and the socket is 0600', async () => {
    // One socket per daemon: /run/meshguard may belong to another test's daemon.
    process.env['MESHGUARD_CONTROL_SOCKET'] = join(root, 'ctl.sock');
    let stopped = false;
    const server = await ControlServer.listen(join(root, 'cfg'), {
      status: () => ({ running: true, pubkey: 'ab' }),
      peers: () => [{ pubkey: 'cd', state: 'alive' }],
      stop: () => {
        stopped = true;
      },
    });
    try {
      assert.equal(statSync(server.path).mode & 0o777, 0o600);
      assert.equal(server.path, join(root, 'ctl.sock'));
      const dir = join(root, 'cfg');
      assert.deepEqual(await controlRequest(dir, 'STATUS'), { running: true, pubkey: 'ab' });
      assert.deepEqual(await controlRequest(dir, 'PEERS'), [{ pubkey: 'cd', state: 'alive' }]);
      assert.deepEqual(await controlRequest(dir, 'NOPE'), { error: 'unknown command' });
      assert.deepEqual(await controlRequest(dir, 'STOP'), { ok: true, stopping: true });
      await new Promise((r) => setImmediate(r));
      assert.equal(stopped, true);
    } finally {
      server.close();
    }
  });
});
