import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { controllers, parseCli } from '../../src/app/main.js';
import { defaultIdentity } from '../../src/app/operator-app.js';

describe('operator command line', () => {
  it('takes flags over environment over defaults', () => {
    const none = (): undefined => undefined;
    assert.deepEqual(parseCli([], {}, none), {
      httpAddress: ':8080',
      namespace: 'default',
      leaderElect: true,
      kubeconfig: undefined,
    });
    assert.deepEqual(
      parseCli([], { POD_NAMESPACE: 'env-ns', MESHGUARD_LEADER_ELECT: 'false', KUBECONFIG: '/k' }, () => 'sa-ns'),
      { httpAddress: ':8080', namespace: 'env-ns', leaderElect: false, kubeconfig: '/k' },
    );
    assert.equal(parseCli([], {}, () => 'sa-ns').namespace, 'sa-ns', 'the service account namespace in a pod');
    assert.deepEqual(
      parseCli(
        ['--metrics-address=127.0.0.1:9090', '--namespace', 'flag-ns', '--leader-elect=true', '--kubeconfig=/f'],
        { POD_NAMESPACE: 'env-ns', MESHGUARD_LEADER_ELECT: 'false', KUBECONFIG: '/k' },
        none,
      ),
      { httpAddress: '127.0.0.1:9090', namespace: 'flag-ns', leaderElect: true, kubeconfig: '/f' },
    );
    assert.throws(() => parseCli(['--leader-elect=maybe'], {}, none), ArgumentError);
    assert.throws(() => parseCli(['--unknown'], {}, none));
  });

  it('registers the MeshOrg and MeshNode controllers', () => {
    assert.equal(controllers.length, 2);
  });

  it('makes distinct identities from the pod name, the pid and randomness', () => {
    const a = defaultIdentity({ POD_NAME: 'operator-7d9f' }, 'ignored');
    const b = defaultIdentity({ POD_NAME: 'operator-7d9f' }, 'ignored');
    assert.match(a, new RegExp(`^operator-7d9f_${String(process.pid)}_[0-9a-f]{8}$`));
    assert.notEqual(a, b);
    assert.match(defaultIdentity({}, 'host-1'), /^host-1_/);
  });
});
