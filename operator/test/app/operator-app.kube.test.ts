import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { requireCapability } from '@meshguard/core/testing';
import type { ControllerSetup } from '../../src/app/controller-registration.js';
import { OperatorApp, type OperatorAppOptions } from '../../src/app/operator-app.js';
import { enqueueOnChange } from '../../src/controller/enqueue.js';
import {
  configMapResource,
  Informer,
  KubeClient,
  KubeListWatcher,
  type KubeObject,
  resourcePath,
  type ResourceRef,
} from '@meshguard/core/kube';
import { Controller } from '../../src/controller/reconciler.js';
import { OperatorMetrics } from '../../src/metrics/operator-metrics.js';
import { installCrds } from '../reconcilers/cluster-fixture.js';
import { KubeCluster, kubeAvailability } from '../support/kube-cluster.js';

// OperatorApp against a real API server: leader election between replicas, controllers only on
// the leader, graceful hand-over, and what /readyz says on each replica.

const availability = kubeAvailability();
let cluster: KubeCluster | undefined;
let kubeConfig: KubeConfig;
let client: KubeClient;
const stopLater: OperatorApp[] = [];

function running(t: TestContext): boolean {
  return requireCapability(t, availability.available, availability.reason);
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name } } });
  return name;
}

/** A controller over the ConfigMaps of `namespace` that logs which app reconciled what. */
function configMapController(namespace: string, log: string[], owner: () => string): ControllerSetup {
  return (ctx) => {
    const informer = new Informer<KubeObject>({
      name: `configmaps/${namespace}`,
      listWatcher: new KubeListWatcher<KubeObject>(ctx.client, configMapResource, { namespace }),
    });
    return {
      name: 'configmaps',
      informers: [informer],
      createController: (term) => {
        const controller = new Controller({
          name: 'configmaps',
          reconciler: {
            reconcile: (key) => {
              log.push(`${owner()} ${key}`);
              return Promise.resolve(undefined);
            },
          },
          ...term.instrumentation,
        });
        return { controller, dispose: enqueueOnChange(informer, controller.queue) };
      },
    };
  };
}

function app(options: Partial<OperatorAppOptions> & Pick<OperatorAppOptions, 'controllers'>): OperatorApp {
  const a = new OperatorApp({
    kubeConfig,
    namespace: 'default',
    httpAddress: '127.0.0.1:0',
    leaderElection: false,
    metrics: new OperatorMetrics({ defaultMetrics: false }),
    drainTimeoutMs: 2_000,
    ...options,
  });
  stopLater.push(a);
  return a;
}

async function get(a: OperatorApp, path: string): Promise<{ status: number; body: string }> {
  assert.ok(a.httpUrl !== undefined);
  const res = await fetch(`${a.httpUrl}${path}`);
  return { status: res.status, body: await res.text() };
}

before(async () => {
  if (!availability.available) return;
  cluster = await KubeCluster.start();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  client = new KubeClient(kubeConfig);
});

after(async () => {
  for (const a of stopLater) await a.stop();
  await cluster?.stop();
});

describe('OperatorApp against kube-apiserver', () => {
  it('two replicas: exactly one runs the controller; a graceful stop hands over at once', async (t) => {
    if (!running(t)) return;
    const ns = await createNamespace('app');
    await client.request('POST', resourcePath(configMapResource, ns), { body: { metadata: { name: 'cm1' } } });
    const lease = `lease-${randomBytes(3).toString('hex')}`;
    const log: string[] = [];
    const make = (identity: string): OperatorApp =>
      app({
        identity,
        leaderElection: { leaseName: lease, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 },
        controllers: [configMapController(ns, log, () => identity)],
      });
    const a = make('replica-a');
    const b = make('replica-b');
    await Promise.all([a.start(), b.start()]);
    await until('a leader running its controller', () => a.runningControllers.length + b.runningControllers.length > 0);

    const sampleUntil = Date.now() + 2_500;
    while (Date.now() < sampleUntil) {
      assert.equal(Number(a.isLeader) + Number(b.isLeader), 1, 'exactly one leader');
      assert.equal(a.runningControllers.length + b.runningControllers.length, 1, 'exactly one controller running');
      await sleep(25);
    }
    const [leader, standby] = a.isLeader ? [a, b] : [b, a];
    assert.deepEqual(leader.runningControllers, ['configmaps']);
    assert.deepEqual(standby.runningControllers, []);
    assert.ok(
      log.every((line) => line.startsWith(leader.identity)),
      log.join('; '),
    );
    assert.ok(log.includes(`${leader.identity} ${ns}/cm1`));

    // Both replicas are ready: the leader is working, the standby is standing by with warm caches.
    assert.equal((await get(leader, '/readyz')).status, 200);
    assert.equal((await get(standby, '/readyz')).status, 200);
    assert.equal((await get(standby, '/healthz')).status, 200);
    const leaderMetrics = (await get(leader, '/metrics')).body;
    assert.match(leaderMetrics, new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 1$`, 'm'));
    assert.match(
      leaderMetrics,
      /^controller_runtime_reconcile_total\{controller="configmaps",result="success"\} [1-9]/m,
    );
    assert.match(leaderMetrics, /^workqueue_adds_total\{name="configmaps"\} [1-9]/m);
    assert.match(
      (await get(standby, '/metrics')).body,
      new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 0$`, 'm'),
    );

    log.length = 0;
    await leader.stop();
    const stoppedAt = Date.now();
    await until('the takeover', () => standby.runningControllers.length === 1, 5_000);
    const takeover = Date.now() - stoppedAt;
    assert.ok(takeover < 1_500, `took over ${String(takeover)} ms after the stop (lease: 2000 ms)`);
    await until('the new leader reconciles', () => log.includes(`${standby.identity} ${ns}/cm1`), 5_000);
    assert.ok(
      log.every((line) => line.startsWith(standby.identity)),
      'the old leader wrote nothing after its stop',
    );
    assert.equal(standby.terms, 1);
    await assert.rejects(fetch(`${leader.httpUrl ?? ''}/healthz`), 'the stopped replica closed its HTTP server');

    await standby.stop();
    const leaseBody = (await client.request(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/default/leases/${lease}`,
    )) as { spec?: { holderIdentity?: string } };
    assert.equal(leaseBody.spec?.holderIdentity, '', 'released on graceful stop');
  });

  it('a graceful stop lets a reconcile in progress finish before the lease goes; a lost lease aborts at once', async (t) => {
    if (!running(t)) return;
    const ns = await createNamespace('drain');
    await client.request('POST', resourcePath(configMapResource, ns), { body: { metadata: { name: 'slow' } } });
    const lease = `lease-${randomBytes(3).toString('hex')}`;
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/default/leases/${lease}`;
    const timeline: string[] = [];
    let reconcileMs = 800;
    const setup: ControllerSetup = (ctx) => {
      const informer = new Informer<KubeObject>({
        name: `configmaps/${ns}`,
        listWatcher: new KubeListWatcher<KubeObject>(ctx.client, configMapResource, { namespace: ns }),
      });
      return {
        name: 'slow',
        informers: [informer],
        createController: (term) => {
          const controller = new Controller({
            name: 'slow',
            reconciler: {
              reconcile: async (key, signal) => {
                if (key !== `${ns}/slow`) return undefined;
                timeline.push('reconcile started');
                await sleep(reconcileMs, undefined, { signal }).then(
                  () => timeline.push('reconcile finished'),
                  () => timeline.push('reconcile aborted'),
                );
                return undefined;
              },
            },
            ...term.instrumentation,
          });
          return { controller, dispose: enqueueOnChange(informer, controller.queue) };
        },
      };
    };
    const leaderElection = { leaseName: lease, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 };
    const a = app({ identity: 'drainer', leaderElection, controllers: [setup] });
    await a.start();
    await until('the reconcile to start', () => timeline.includes('reconcile started'));
    const stopping = a.stop();
    // While draining, the lease is still held (and renewed): no successor can overlap.
    await sleep(300);
    const held = (await client.request('GET', leasePath)) as { spec?: { holderIdentity?: string } };
    assert.equal(held.spec?.holderIdentity, 'drainer');
    await stopping;
    assert.deepEqual(timeline, ['reconcile started', 'reconcile finished']);
    const released = (await client.request('GET', leasePath)) as { spec?: { holderIdentity?: string } };
    assert.equal(released.spec?.holderIdentity, '');

    // Someone else takes the lease while a long reconcile runs: the controller is aborted, not drained.
    timeline.length = 0;
    reconcileMs = 60_000;
    const b = app({ identity: 'victim', leaderElection, controllers: [setup] });
    await b.start();
    await until('the reconcile to start', () => timeline.includes('reconcile started'));
    const current = (await client.request('GET', leasePath)) as KubeObject & { spec: Record<string, unknown> };
    await client.request('PUT', leasePath, {
      body: { ...current, spec: { ...current.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60 } },
    });
    await until('the abort', () => timeline.includes('reconcile aborted'), 3_000);
    assert.equal(b.isLeader, false);
    assert.deepEqual(b.runningControllers, []);
    assert.equal((await get(b, '/readyz')).status, 200, 'standing by again, and ready');
    assert.match(
      (await get(b, '/metrics')).body,
      new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 0$`, 'm'),
    );
    await b.stop();
  });

  it('main: the process serves probes, leads, and on SIGTERM releases the lease and exits 0', async (t) => {
    if (!running(t)) return;
    assert.ok(cluster !== undefined);
    const ns = await createNamespace('main');
    // main.js runs the real MeshOrg/MeshNode controllers, whose informers need the CRDs.
    await installCrds(cluster, client);
    const mainJs = fileURLToPath(new URL('../../src/app/main.js', import.meta.url));
    const child = spawn(
      process.execPath,
      [mainJs, `--kubeconfig=${cluster.kubeconfigPath}`, '--metrics-address=127.0.0.1:0', `--namespace=${ns}`],
      { env: { ...process.env, POD_NAME: 'main-test' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = once(child, 'exit');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    try {
      await until('the listening log line', () => /"url":"http:\/\/[^"]+"/.test(stderr), 10_000);
      const url = /"url":"(http:\/\/[^"]+)"/.exec(stderr)?.[1] ?? '';
      await until('leading', () => stderr.includes('"msg":"leading"'), 10_000);
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      const leasePath = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/meshguard-operator`;
      const held = (await client.request('GET', leasePath)) as { spec?: { holderIdentity?: string } };
      assert.match(held.spec?.holderIdentity ?? '', /^main-test_\d+_[0-9a-f]{8}$/);
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      const released = (await client.request('GET', leasePath)) as { spec?: { holderIdentity?: string } };
      assert.equal(released.spec?.holderIdentity, '');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('/readyz fails until the informers sync; /healthz does not depend on them', async (t) => {
    if (!running(t)) return;
    const missing: ResourceRef = {
      apiVersion: 'nothing.meshguard.io/v1',
      kind: 'Nope',
      plural: 'nopes',
      namespaced: false,
    };
    let created = 0;
    const a = app({
      controllers: [
        (ctx) => {
          const informer = new Informer<KubeObject>({
            name: 'nopes',
            listWatcher: new KubeListWatcher<KubeObject>(ctx.client, missing),
            initialBackoffMs: 50,
            maxBackoffMs: 200,
          });
          return {
            name: 'nopes',
            informers: [informer],
            createController: (term) => {
              created++;
              return {
                controller: new Controller({
                  name: 'nopes',
                  reconciler: { reconcile: () => Promise.resolve(undefined) },
                  ...term.instrumentation,
                }),
              };
            },
          };
        },
      ],
    });
    await a.start();
    await sleep(500);
    const ready = await get(a, '/readyz?verbose');
    assert.equal(ready.status, 500);
    assert.match(ready.body, /^\[-\]informers-synced failed: not synced: nopes$/m);
    assert.match(ready.body, /^\[\+\]leader-election ok$/m, 'no leader election: nothing to wait for');
    assert.equal((await get(a, '/healthz')).status, 200);
    assert.equal(created, 0, 'no controller before its informers synced');
    assert.equal(a.isLeader, true, 'without leader election the app acts as the leader');
    await a.stop();
  });

  it('without leader election the controllers run at once, and stop drains them', async (t) => {
    if (!running(t)) return;
    const ns = await createNamespace('solo');
    await client.request('POST', resourcePath(configMapResource, ns), { body: { metadata: { name: 'only' } } });
    const log: string[] = [];
    const a = app({ controllers: [configMapController(ns, log, () => 'solo')] });
    await a.start();
    await until('the reconcile', () => log.includes(`solo ${ns}/only`));
    assert.deepEqual(a.runningControllers, ['configmaps']);
    assert.equal((await get(a, '/readyz')).status, 200);
    await a.stop();
    assert.deepEqual(a.runningControllers, []);
  });
});
