import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { requireCapability } from '@meshguard/core/testing';
import { enqueueOnChange } from '../../src/controller/enqueue.js';
import {
  configMapResource,
  Informer,
  type InformerOptions,
  isConflict,
  KubeClient,
  KubeListWatcher,
  type KubeObject,
  resourcePath,
  type ResourceRef,
} from '@meshguard/core/kube';
import { LeaderElector } from '../../src/controller/leader-election.js';
import { KubeLeaseLock, type LeaderElectionRecord, type LeaseLock } from '../../src/controller/lease-lock.js';
import { Controller } from '../../src/controller/reconciler.js';
import { KubeCluster, kubeAvailability } from '../support/kube-cluster.js';
import { RestartedApiServer } from './api-server-restart.js';
import { TcpProxy } from './tcp-proxy.js';

// The plumbing against etcd + kube-apiserver: what the fakes in the unit tests stand in for.

interface ConfigMap extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
}

interface Widget extends KubeObject {
  readonly spec?: { readonly size?: number };
  readonly status?: { readonly observedGeneration?: number };
}

const LABEL = 'meshguard.test/informer';
const SELECTED = `${LABEL}=yes`;
/** How long the long-lived watches are kept (default just past client-node 2.0.0's 30 s abort). */
const SOAK_MS = Number(process.env['MESHGUARD_WATCH_SOAK_MS'] ?? 33_000);

const widgetResource: ResourceRef = {
  apiVersion: 'test.meshguard.io/v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: false,
};
const namespaceResource: ResourceRef = { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };

const availability = kubeAvailability();
let cluster: KubeCluster | undefined;
let direct: KubeClient;
let proxy: TcpProxy | undefined;
/** Goes through `proxy`, so a test can cut, refuse or silence it without touching anything else. */
let viaProxy: KubeClient;
let restarted: RestartedApiServer | undefined;
const stopLater: (() => Promise<void>)[] = [];

function kubeConfig(path: string, server?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  if (server === undefined) return kc;
  const c = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  assert.ok(c !== null && user !== null);
  const proxied = new KubeConfig();
  proxied.loadFromClusterAndUser({ ...c, server }, user);
  return proxied;
}

function running(t: TestContext): boolean {
  return requireCapability(t, availability.available, availability.reason);
}

function theProxy(): TcpProxy {
  assert.ok(proxy !== undefined, 'the proxy started with the cluster');
  return proxy;
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

async function createNamespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await direct.request('POST', '/api/v1/namespaces', {
    body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
  });
  return name;
}

function configMaps(namespace: string): string {
  return resourcePath(configMapResource, namespace);
}

async function putConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<ConfigMap> {
  const body = { metadata: { name, labels: { [LABEL]: 'yes' } }, data };
  try {
    return (await direct.request('POST', configMaps(namespace), { body })) as ConfigMap;
  } catch (err) {
    if (!isConflict(err)) throw err;
    return (await direct.request('PATCH', resourcePath(configMapResource, namespace, name), {
      body: { data },
      contentType: 'application/merge-patch+json',
    })) as ConfigMap;
  }
}

async function deleteConfigMap(namespace: string, name: string): Promise<void> {
  await direct.request('DELETE', resourcePath(configMapResource, namespace, name));
}

function configMapInformer(
  client: KubeClient,
  namespace: string,
  options: Partial<InformerOptions<ConfigMap>> = {},
): Informer<ConfigMap> {
  const informer = new Informer<ConfigMap>({
    name: `configmaps/${namespace}`,
    listWatcher: new KubeListWatcher<ConfigMap>(client, configMapResource, { namespace, labelSelector: SELECTED }),
    ...options,
  });
  stopLater.push(() => informer.stop());
  return informer;
}

/** Handler calls as text, for exact comparisons. */
function recordEvents(informer: Informer<ConfigMap>): string[] {
  const log: string[] = [];
  informer.addHandlers({
    add: (o) => log.push(`add ${o.metadata.name}`),
    update: (a, b) => log.push(`update ${b.metadata.name} ${a.data?.['v'] ?? '-'}→${b.data?.['v'] ?? '-'}`),
    delete: (o, unknown) => log.push(`delete ${o.metadata.name}${unknown ? ' (final state unknown)' : ''}`),
  });
  return log;
}

// Long-lived watches, started with the cluster and checked near the end, so that their half
// minute overlaps the other tests instead of adding to the run.
let busy: Informer<ConfigMap> | undefined;
let quiet: Informer<ConfigMap> | undefined;
let soakNs = '';
let writes = 0;
let soakStarted = 0;

async function startSoak(): Promise<void> {
  soakStarted = Date.now();
  soakNs = await createNamespace('soak');
  const quietNs = await createNamespace('quiet');
  busy = configMapInformer(direct, soakNs);
  quiet = configMapInformer(direct, quietNs);
  busy.start();
  quiet.start();
  await busy.waitForSync(AbortSignal.timeout(10_000));
  await quiet.waitForSync(AbortSignal.timeout(10_000));
  // An event every 5 s keeps the busy watch active, so only a limit on its age could end it.
  const writer = setInterval(() => {
    void putConfigMap(soakNs, 'ticker', { v: String(++writes) });
  }, 5_000);
  stopLater.push(() => {
    clearInterval(writer);
    return Promise.resolve();
  });
}

before(async () => {
  if (!availability.available) return;
  cluster = await KubeCluster.start();
  direct = new KubeClient(kubeConfig(cluster.kubeconfigPath));
  const api = new URL(cluster.server);
  proxy = await TcpProxy.start(api.hostname, Number(api.port));
  viaProxy = new KubeClient(kubeConfig(cluster.kubeconfigPath, proxy.url), { requestTimeoutMs: 5_000 });
  await startSoak();
});

after(async () => {
  for (const stop of stopLater.reverse()) await stop();
  await proxy?.close();
  await restarted?.stop();
  await cluster?.stop();
});

describe('Informer against kube-apiserver', () => {
  it('lists and watches ConfigMaps (namespaced, by label) and Namespaces (cluster-scoped)', async (t) => {
    if (!running(t)) return;
    const ns = await createNamespace('informer');
    await putConfigMap(ns, 'pre', { v: '0' });
    const informer = configMapInformer(direct, ns);
    const log = recordEvents(informer);
    informer.start();
    assert.equal(await informer.waitForSync(AbortSignal.timeout(10_000)), true);
    assert.deepEqual(informer.keys(), [`${ns}/pre`], 'kube-root-ca.crt is not selected');

    await putConfigMap(ns, 'a', { v: '1' });
    await putConfigMap(ns, 'a', { v: '2' });
    await deleteConfigMap(ns, 'a');
    await until('the delete', () => log.length === 4);
    assert.deepEqual(log, ['add pre', 'add a', 'update a 1→2', 'delete a']);
    assert.equal(informer.get(`${ns}/a`), undefined);
    assert.equal(informer.get(`${ns}/pre`)?.kind, 'ConfigMap', 'listed items carry their kind like watched ones');

    const namespaces = new Informer<KubeObject>({
      listWatcher: new KubeListWatcher<KubeObject>(direct, namespaceResource),
    });
    stopLater.push(() => namespaces.stop());
    namespaces.start();
    await namespaces.waitForSync(AbortSignal.timeout(10_000));
    assert.ok(namespaces.get(ns) !== undefined, 'cluster-scoped objects are keyed by name alone');
    const later = await createNamespace('later');
    await until('the new namespace', () => namespaces.get(later) !== undefined);
    await namespaces.stop();
    await informer.stop();
  });

  it('drives a controller from a custom resource; its own status writes do not retrigger it', async (t) => {
    if (!running(t)) return;
    await direct.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
      body: {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.test.meshguard.io' },
        spec: {
          group: 'test.meshguard.io',
          scope: 'Cluster',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { size: { type: 'integer' } } },
                    status: { type: 'object', properties: { observedGeneration: { type: 'integer' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    const collection = resourcePath(widgetResource);
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await direct.request('GET', collection);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }

    const widgets = new Informer<Widget>({ listWatcher: new KubeListWatcher<Widget>(direct, widgetResource) });
    stopLater.push(() => widgets.stop());
    const reconciles = new Map<string, number>();
    const controller = new Controller({
      name: 'widgets',
      workers: 2,
      reconciler: {
        async reconcile(key, signal) {
          reconciles.set(key, (reconciles.get(key) ?? 0) + 1);
          const widget = widgets.get(key);
          if (widget === undefined) return undefined;
          // Custom resources take merge patch (never strategic merge), status through its subresource.
          await direct.request('PATCH', `${resourcePath(widgetResource, undefined, key)}/status`, {
            body: { status: { observedGeneration: widget.metadata.generation } },
            contentType: 'application/merge-patch+json',
            signal,
          });
          return undefined;
        },
      },
    });
    stopLater.push(() => controller.stop());
    enqueueOnChange(widgets, controller.queue);
    widgets.start();
    await widgets.waitForSync(AbortSignal.timeout(10_000));
    controller.start();

    const observed = (gen: number) => (): boolean => widgets.get('w1')?.status?.observedGeneration === gen;
    await direct.request('POST', collection, {
      body: { apiVersion: widgetResource.apiVersion, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } },
    });
    await until('status for generation 1', observed(1));
    await sleep(500);
    assert.equal(reconciles.get('w1'), 1, 'the status write came back as an update and was filtered');

    await direct.request('PATCH', resourcePath(widgetResource, undefined, 'w1'), {
      body: { spec: { size: 2 } },
      contentType: 'application/merge-patch+json',
    });
    await until('status for generation 2', observed(2));
    await sleep(500);
    assert.equal(reconciles.get('w1'), 2);
    assert.deepEqual(controller.stats.errors, 0);

    await direct.request('DELETE', resourcePath(widgetResource, undefined, 'w1'));
    await until('the delete reconciled', () => reconciles.get('w1') === 3);
    await controller.stop();
    await widgets.stop();
  });

  it('restarts a watch whose connection went silent (watchdog), then catches up without a re-list', async (t) => {
    if (!running(t)) return;
    const ns = await createNamespace('watchdog');
    const informer = configMapInformer(viaProxy, ns, { watchdogMs: 1_500, initialBackoffMs: 100, maxBackoffMs: 500 });
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(10_000));
    await putConfigMap(ns, 'before', { v: '1' });
    await until('the first object', () => informer.size === 1);

    theProxy().setMode('blackhole');
    await putConfigMap(ns, 'unseen', { v: '1' });
    await sleep(3_500);
    assert.equal(informer.get(`${ns}/unseen`), undefined, 'nothing got through the black hole');
    assert.ok(informer.stats.watchdogRestarts >= 1, `watchdog restarts: ${String(informer.stats.watchdogRestarts)}`);

    theProxy().setMode('forward');
    await until('the missed object', () => informer.get(`${ns}/unseen`) !== undefined);
    assert.equal(informer.stats.lists, 1, 'resumed from its resourceVersion: the event was replayed, not re-listed');
    await informer.stop();
  });
});

describe('LeaderElector against kube-apiserver', () => {
  it('one of two candidates leads; a graceful stop hands over at once, not after the lease', async (t) => {
    if (!running(t)) return;
    const lease = uniqueName('lease');
    const events: string[] = [];
    const make = (identity: string): LeaderElector =>
      new LeaderElector({
        lock: new KubeLeaseLock(direct, 'default', lease),
        identity,
        leaseDurationMs: 2_000,
        renewDeadlineMs: 1_500,
        retryPeriodMs: 250,
        onStartedLeading: () => {
          events.push(`${identity} leads`);
        },
        onStoppedLeading: () => {
          events.push(`${identity} stops`);
        },
      });
    const a = make('a');
    const b = make('b');
    stopLater.push(
      () => a.stop(),
      () => b.stop(),
    );
    a.start();
    b.start();
    await until('a leader', () => a.isLeader || b.isLeader);
    const sampleUntil = Date.now() + 3_000;
    while (Date.now() < sampleUntil) {
      assert.equal(Number(a.isLeader) + Number(b.isLeader), 1, 'exactly one leader');
      await sleep(25);
    }
    const [leader, other] = a.isLeader ? [a, b] : [b, a];
    await leader.stop();
    const released = Date.now();
    await until('the takeover', () => other.isLeader, 5_000);
    const takeover = Date.now() - released;
    assert.ok(takeover < 1_000, `took over ${String(takeover)} ms after the release (lease: 2000 ms)`);
    assert.deepEqual(events, [`${leader.identity} leads`, `${leader.identity} stops`, `${other.identity} leads`]);
    await other.stop();
  });

  it('a leader cut off from the API steps down before the other takes over after the lease', async (t) => {
    if (!running(t)) return;
    const lease = uniqueName('lease');
    const times = new Map<string, number>();
    const make = (identity: string, client: KubeClient): LeaderElector =>
      new LeaderElector({
        lock: new KubeLeaseLock(client, 'default', lease),
        identity,
        leaseDurationMs: 2_000,
        renewDeadlineMs: 1_500,
        retryPeriodMs: 250,
        onStartedLeading: () => {
          times.set(`${identity} leads`, Date.now());
        },
        onStoppedLeading: () => {
          times.set(`${identity} stops`, Date.now());
        },
      });
    const cutOff = make('cut-off', viaProxy);
    const standby = make('standby', direct);
    stopLater.push(
      () => cutOff.stop(),
      () => standby.stop(),
    );
    cutOff.start();
    await until('the first leader', () => cutOff.isLeader);
    standby.start();
    await sleep(1_000);
    theProxy().setMode('refuse');
    const cutAt = Date.now();
    await until('the takeover', () => standby.isLeader, 6_000);
    theProxy().setMode('forward');
    const stepped = times.get('cut-off stops');
    const took = times.get('standby leads');
    assert.ok(stepped !== undefined && took !== undefined);
    // Its last renewal was at most at the cut; it steps down at that plus renewDeadline (and scheduling slack).
    assert.ok(stepped - cutAt <= 1_500 + 500, `stepped down ${String(stepped - cutAt)} ms after the cut`);
    assert.ok(took > stepped, 'no overlap: the new leader started after the old one stopped');
    // The standby sees that last renewal within one jittered retry (≤ 550 ms), waits the 2 s lease
    // from then, and acquires at its next retry.
    assert.ok(took - cutAt <= 550 + 2_000 + 550 + 500, `took over ${String(took - cutAt)} ms after the cut`);
    await standby.stop();
    await cutOff.stop();
  });

  it('retries 409 conflicts from the API server and keeps fields others added to the lease', async (t) => {
    if (!running(t)) return;
    const lease = uniqueName('lease');
    const path = `/apis/coordination.k8s.io/v1/namespaces/default/leases/${lease}`;
    const real = new KubeLeaseLock(direct, 'default', lease);
    let pokes = 2;
    let conflicts = 0;
    // Before each of the first renewals someone else edits the lease (an annotation), so the
    // elector's write carries a stale resourceVersion and the API server answers 409.
    const meddling: LeaseLock = {
      description: real.description,
      get: (signal) => real.get(signal),
      create: (record, signal) => real.create(record, signal),
      async update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal) {
        if (pokes > 0) {
          pokes--;
          await direct.request('PATCH', path, {
            body: { metadata: { annotations: { 'meshguard.test/poked': String(pokes) } } },
            contentType: 'application/merge-patch+json',
          });
        }
        try {
          return await real.update(record, resourceVersion, signal);
        } catch (err) {
          if (isConflict(err)) conflicts++;
          throw err;
        }
      },
    };
    let stops = 0;
    const elector = new LeaderElector({
      lock: meddling,
      identity: 'solo',
      leaseDurationMs: 2_000,
      renewDeadlineMs: 1_500,
      retryPeriodMs: 250,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => stops++,
    });
    stopLater.push(() => elector.stop());
    elector.start();
    await until('leading', () => elector.isLeader);
    await until('the edits', () => pokes === 0);
    await sleep(600);
    assert.equal(conflicts, 2, 'each edit made one write conflict');
    assert.equal(elector.isLeader, true, 'and each conflict was retried');
    assert.equal(stops, 0);
    const current = (await direct.request('GET', path)) as KubeObject & { spec?: { holderIdentity?: string } };
    assert.equal(current.spec?.holderIdentity, 'solo');
    assert.equal(current.metadata.annotations?.['meshguard.test/poked'], '0', 'the annotation survived the renewals');
    await elector.stop();
    const released = (await direct.request('GET', path)) as { spec?: { holderIdentity?: string } };
    assert.equal(released.spec?.holderIdentity, '', 'released on stop');
  });
});

// Last, because restarting the API server ends every watch, the long-lived ones included.
describe('Informer over half a minute and across an API server restart', () => {
  it(`keeps watches open past 30 s: a busy one on one connection, a quiet one resumed without re-list`, async (t) => {
    if (!running(t)) return;
    assert.ok(busy !== undefined && quiet !== undefined);
    const remaining = SOAK_MS - (Date.now() - soakStarted);
    if (remaining > 0) await sleep(remaining);
    const last = String(writes);
    await until('the last write', () => busy?.get(`${soakNs}/ticker`)?.data?.['v'] === last, 5_000);
    const b = busy.stats;
    assert.equal(
      b.watchesStarted,
      1,
      `one watch for ${String(SOAK_MS)} ms (client-node 2.0.0 aborted every watch at 30 s)`,
    );
    assert.equal(b.lists, 1);
    assert.equal(b.watchErrors + b.watchdogRestarts + b.expired, 0);
    assert.ok(writes >= Math.floor(SOAK_MS / 5_000) - 1, `${String(writes)} writes seen`);

    // Silent for 30 s, client-node's inactivity timer ends the stream: an orderly resume.
    const q = quiet.stats;
    assert.ok(q.watchesStarted >= 2, `quiet watch reopened ${String(q.watchesStarted - 1)} times`);
    assert.equal(q.lists, 1);
    assert.equal(q.watchErrors + q.watchdogRestarts + q.expired, 0);
    await busy.stop();
    await quiet.stop();
  });

  it('resumes after a cut connection, and re-lists after 410 Gone from a restarted API server', async (t) => {
    if (!running(t)) return;
    assert.ok(cluster !== undefined);
    const ns = await createNamespace('relist');
    for (const name of ['keep', 'gone', 'changed']) await putConfigMap(ns, name, { v: '1' });
    const informer = configMapInformer(viaProxy, ns, { initialBackoffMs: 100, maxBackoffMs: 1_000 });
    const log = recordEvents(informer);
    informer.start();
    await informer.waitForSync(AbortSignal.timeout(10_000));
    await putConfigMap(ns, 'probe', { v: '1' });
    await until('the watch to be live', () => informer.get(`${ns}/probe`) !== undefined);
    log.length = 0;

    // A reset connection: the watch resumes where it was.
    theProxy().cutAll();
    await putConfigMap(ns, 'after-cut', { v: '1' });
    await until('the object created across the cut', () => informer.get(`${ns}/after-cut`) !== undefined);
    assert.ok(informer.stats.watchErrors >= 1, 'the cut ended the watch');
    assert.equal(informer.stats.lists, 1, 'resumed from its resourceVersion');

    // Cut off while things change and the API server restarts: its new watch cache starts past
    // the informer's resourceVersion, so the resumed watch gets 410 and only a re-list catches up.
    theProxy().setMode('refuse');
    await deleteConfigMap(ns, 'gone');
    await putConfigMap(ns, 'new', { v: '1' });
    await putConfigMap(ns, 'changed', { v: '2' });
    restarted = await RestartedApiServer.restart(cluster);
    await sleep(1_000); // the new watch cache fills
    log.length = 0;
    theProxy().setMode('forward');
    await until('the re-list', () => informer.stats.lists === 2);
    assert.ok(informer.stats.expired >= 1, 'the resumed watch was told 410 Gone');
    assert.deepEqual(log.sort(), ['add new', 'delete gone (final state unknown)', 'update changed 1→2'].sort());
    const expected = ['after-cut', 'changed', 'keep', 'new', 'probe'].map((n) => `${ns}/${n}`);
    assert.deepEqual(informer.keys().sort(), expected.sort());
    await informer.stop();
  });
});
