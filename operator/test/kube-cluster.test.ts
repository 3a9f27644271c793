import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { get as httpsGet } from 'node:https';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireCapability } from '@meshguard/core/testing';
import { KubeCluster, kubeAvailability, kubectlPath, type KubeResponse } from './support/kube-cluster.js';

// The harness itself: later operator tests rely on each of these behaving as in a real cluster.

interface ObjectMeta {
  readonly name: string;
  readonly uid: string;
  readonly namespace?: string;
}

function meta(res: KubeResponse): ObjectMeta {
  const parsed = JSON.parse(res.body) as { metadata?: ObjectMeta };
  assert.ok(parsed.metadata !== undefined, `no metadata in ${res.body}`);
  return parsed.metadata;
}

function expectStatus(res: KubeResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: HTTP ${String(res.status)} ${res.body}`);
}

describe('Kubernetes test cluster', () => {
  const availability = kubeAvailability();
  let cluster: KubeCluster | undefined;

  before(async () => {
    if (availability.available) cluster = await KubeCluster.start();
  });

  after(async () => {
    await cluster?.stop();
  });

  /** The running cluster, or null when the test was skipped for lack of binaries. */
  function running(t: TestContext): KubeCluster | null {
    if (!requireCapability(t, availability.available, availability.reason)) return null;
    assert.ok(cluster !== undefined);
    return cluster;
  }

  it('answers /readyz to the admin client certificate and refuses anonymous clients', async (t) => {
    const c = running(t);
    if (c === null) return;
    const ready = await c.request('GET', '/readyz?verbose');
    expectStatus(ready, 200, '/readyz');
    assert.match(ready.body, /readyz check passed/);
    const version = JSON.parse((await c.request('GET', '/version')).body) as { gitVersion?: string };
    assert.equal(version.gitVersion, c.binaries.kubernetesVersion);

    // The throwaway admin certificate must be the only way in: no anonymous access, even to /readyz.
    const anonymous = await new Promise<number>((resolve, reject) => {
      const req = httpsGet(new URL('/readyz', c.server), { ca: c.admin.ca, timeout: 10_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('timeout', () => req.destroy(new Error('anonymous GET /readyz timed out')));
      req.on('error', reject);
    });
    assert.equal(anonymous, 401);
  });

  it('creates and reads a namespace', async (t) => {
    const c = running(t);
    if (c === null) return;
    const name = `harness-${randomBytes(4).toString('hex')}`;
    const created = await c.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
    expectStatus(created, 201, 'create namespace');
    const read = await c.request('GET', `/api/v1/namespaces/${name}`);
    expectStatus(read, 200, 'read namespace');
    assert.equal(meta(read).uid, meta(created).uid);
  });

  it('garbage-collects a dependent after its owner is deleted (controller manager runs)', async (t) => {
    const c = running(t);
    if (c === null) return;
    const path = '/api/v1/namespaces/default/configmaps';
    const owner = meta(
      await c.request('POST', path, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'gc-owner' },
        data: { role: 'owner' },
      }),
    );
    const dependent = await c.request('POST', path, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'gc-dependent',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner.name, uid: owner.uid }],
      },
      data: { role: 'dependent' },
    });
    expectStatus(dependent, 201, 'create dependent');

    // Background propagation: the API server deletes only the owner; the dependent goes only if
    // the garbage collector in kube-controller-manager is running and has synced its informers.
    expectStatus(await c.request('DELETE', `${path}/gc-owner`), 200, 'delete owner');
    const deadline = Date.now() + 45_000;
    for (;;) {
      const res = await c.request('GET', `${path}/gc-dependent`);
      if (res.status === 404) break;
      expectStatus(res, 200, 'read dependent');
      if (Date.now() > deadline) assert.fail(`dependent still present after 45 s\n${c.describe()}`);
      await sleep(250);
    }
  });

  it('works with kubectl through the written kubeconfig', async (t) => {
    const c = running(t);
    if (c === null) return;
    const kubectl = kubectlPath();
    if (kubectl === null) {
      // kubectl is a convenience for people debugging the harness, not a test dependency.
      t.skip('kubectl not installed');
      return;
    }
    const result = await c.kubectl(['get', 'namespaces', '-o', 'name']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^namespace\/kube-system$/m);
    assert.match(result.stdout, /^namespace\/default$/m);
  });
});
