import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { requireCapability } from '@meshguard/core/testing';
import { KubeEventRecorder, type KubeEventRecorderOptions } from '../../src/controller/event-recorder.js';
import { KubeClient, type KubeObject, resourcePath, type ResourceRef } from '@meshguard/core/kube';
import { KubeCluster, kubeAvailability } from '../support/kube-cluster.js';

// Events about cluster-scoped custom resources, written to a real API server.

interface ApiEvent {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly type: string;
  readonly reason: string;
  readonly note?: string;
  readonly action: string;
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly regarding: { readonly kind: string; readonly name: string; readonly uid: string };
  readonly series?: { readonly count: number; readonly lastObservedTime: string };
}

const gadgetResource: ResourceRef = {
  apiVersion: 'test.meshguard.io/v1',
  kind: 'Gadget',
  plural: 'gadgets',
  namespaced: false,
};

const availability = kubeAvailability();
let cluster: KubeCluster | undefined;
let client: KubeClient;
const closeLater: KubeEventRecorder[] = [];

function running(t: TestContext): boolean {
  return requireCapability(t, availability.available, availability.reason);
}

function recorder(options: Partial<KubeEventRecorderOptions> = {}): KubeEventRecorder {
  const r = new KubeEventRecorder({
    client,
    reportingController: 'meshguard.dev/operator',
    reportingInstance: 'operator-test',
    seriesUpdateIntervalMs: 100,
    ...options,
  });
  closeLater.push(r);
  return r;
}

async function createGadget(prefix: string): Promise<KubeObject> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  return (await client.request('POST', resourcePath(gadgetResource), {
    body: { apiVersion: gadgetResource.apiVersion, kind: 'Gadget', metadata: { name } },
  })) as KubeObject;
}

async function eventsAbout(uid: string): Promise<ApiEvent[]> {
  const list = (await client.request('GET', '/apis/events.k8s.io/v1/namespaces/default/events')) as {
    items: ApiEvent[];
  };
  return list.items.filter((e) => e.regarding.uid === uid).sort((a, b) => (a.note ?? '').localeCompare(b.note ?? ''));
}

function unreachableClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'nowhere', cluster: 'nowhere', user: 'nobody' }],
    currentContext: 'nowhere',
  });
  return new KubeClient(kc, { requestTimeoutMs: 2_000 });
}

before(async () => {
  if (!availability.available) return;
  cluster = await KubeCluster.start();
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  client = new KubeClient(kc);
  await client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.test.meshguard.io' },
      spec: {
        group: 'test.meshguard.io',
        scope: 'Cluster',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    },
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.request('GET', resourcePath(gadgetResource));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
});

after(async () => {
  for (const r of closeLater) await r.close(1_000);
  await cluster?.stop();
});

describe('KubeEventRecorder against kube-apiserver', () => {
  it('writes an events.k8s.io/v1 Event about a cluster-scoped custom resource, visible through core/v1', async (t) => {
    if (!running(t)) return;
    const gadget = await createGadget('plain');
    const r = recorder();
    r.event(gadget, 'Warning', 'KeyMissing', 'secret meshguard/org-key not found', { action: 'LoadKey' });
    await r.flush();
    const [event, ...rest] = await eventsAbout(gadget.metadata.uid ?? '');
    assert.equal(rest.length, 0);
    assert.ok(event !== undefined, 'the Event exists');
    assert.equal(event.metadata.namespace, 'default', 'cluster-scoped objects get their Events in default');
    assert.equal(event.type, 'Warning');
    assert.equal(event.reason, 'KeyMissing');
    assert.equal(event.action, 'LoadKey');
    assert.equal(event.note, 'secret meshguard/org-key not found');
    assert.equal(event.reportingController, 'meshguard.dev/operator');
    assert.equal(event.reportingInstance, 'operator-test');
    assert.deepEqual(
      { kind: event.regarding.kind, name: event.regarding.name },
      { kind: 'Gadget', name: gadget.metadata.name },
    );
    assert.equal(event.series, undefined, 'a single occurrence has no series');

    const legacy = (await client.request('GET', '/api/v1/namespaces/default/events', {
      query: { fieldSelector: `involvedObject.uid=${gadget.metadata.uid ?? ''}` },
    })) as { items: { reason: string; involvedObject: { kind: string } }[] };
    assert.deepEqual(
      legacy.items.map((e) => `${e.involvedObject.kind} ${e.reason}`),
      ['Gadget KeyMissing'],
    );
    assert.deepEqual(r.stats, { ...r.stats, recorded: 1, created: 1, errors: 0 });
  });

  it('folds repeats into one Event series; a different note is a new Event', async (t) => {
    if (!running(t)) return;
    const gadget = await createGadget('series');
    const r = recorder();
    for (let i = 0; i < 20; i++) r.event(gadget, 'Normal', 'Issued', 'certificate issued');
    r.event(gadget, 'Normal', 'Issued', 'certificate renewed');
    await sleep(150);
    for (let i = 0; i < 5; i++) r.event(gadget, 'Normal', 'Issued', 'certificate issued');
    await r.flush();
    const events = await eventsAbout(gadget.metadata.uid ?? '');
    assert.deepEqual(
      events.map((e) => [e.note, e.series?.count]),
      [
        ['certificate issued', 25],
        ['certificate renewed', undefined],
      ],
    );
    const s = r.stats;
    assert.equal(s.created, 2);
    assert.equal(s.deduplicated, 24);
    assert.ok(s.seriesUpdates >= 1 && s.seriesUpdates <= 3, `coalesced into ${String(s.seriesUpdates)} writes`);
    assert.equal(s.errors, 0);
  });

  it('drops new Events beyond the per-object burst, and recovers after the refill', async (t) => {
    if (!running(t)) return;
    const gadget = await createGadget('spam');
    const other = await createGadget('quiet');
    const r = recorder({ perObjectBurst: 3, perObjectRefillMs: 300 });
    for (let i = 0; i < 6; i++) r.event(gadget, 'Warning', 'Failed', `attempt ${String(i)}`);
    r.event(other, 'Warning', 'Failed', 'attempt 0');
    await r.flush();
    assert.equal((await eventsAbout(gadget.metadata.uid ?? '')).length, 3);
    assert.equal((await eventsAbout(other.metadata.uid ?? '')).length, 1, 'another object has its own budget');
    assert.equal(r.stats.droppedRateLimited, 3);
    await sleep(350);
    r.event(gadget, 'Warning', 'Failed', 'attempt 6');
    await r.flush();
    assert.equal((await eventsAbout(gadget.metadata.uid ?? '')).length, 4);
  });

  it('never throws: invalid input and API errors are counted and reported', async (t) => {
    if (!running(t)) return;
    const errors: unknown[] = [];
    const r = recorder({ clusterScopedNamespace: 'no-such-namespace', onError: (err) => errors.push(err) });
    const gadget = await createGadget('errors');
    r.event({ metadata: { name: 'no-uid' } }, 'Normal', 'Reason', 'note');
    r.event(gadget, 'Normal', '', 'empty reason');
    r.event(gadget, 'Normal', 'Refused', 'the namespace does not exist');
    await r.flush();
    assert.equal(r.stats.errors, 3);
    assert.equal(errors.length, 3);
    assert.equal(r.stats.created, 0);
  });
});

describe('KubeEventRecorder without an API server', () => {
  it('bounds its backlog and counts failures; close() returns promptly', async () => {
    const errors: unknown[] = [];
    const r = new KubeEventRecorder({
      client: unreachableClient(),
      reportingController: 'meshguard.dev/operator',
      reportingInstance: 'operator-test',
      maxPending: 3,
      onError: (err) => errors.push(err),
    });
    const regarding = { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg', name: 'acme', uid: 'u-1' };
    for (let i = 0; i < 10; i++) r.event(regarding, 'Normal', 'Reason', `note ${String(i)}`);
    assert.equal(r.stats.droppedQueueFull, 7);
    await r.flush();
    assert.equal(r.stats.errors, 3, 'each queued write failed once, none was retried forever');
    assert.equal(errors.length, 3);
    const started = Date.now();
    await r.close(1_000);
    assert.ok(Date.now() - started < 1_000);
    r.event(regarding, 'Normal', 'Reason', 'after close');
    assert.equal(r.stats.recorded, 10, 'ignored once closed');
  });

  it('keeps at most maxSeries series in memory', async () => {
    const r = new KubeEventRecorder({
      client: unreachableClient(),
      reportingController: 'meshguard.dev/operator',
      reportingInstance: 'operator-test',
      maxSeries: 2,
      maxPending: 100,
    });
    const ref = (uid: string): { apiVersion: string; kind: string; name: string; uid: string } => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      name: uid,
      uid,
    });
    r.event(ref('a'), 'Normal', 'R', 'n');
    r.event(ref('b'), 'Normal', 'R', 'n');
    r.event(ref('c'), 'Normal', 'R', 'n');
    // 'a' was evicted: its repeat is a new Event, not a series bump.
    r.event(ref('a'), 'Normal', 'R', 'n');
    r.event(ref('c'), 'Normal', 'R', 'n');
    assert.equal(r.stats.deduplicated, 1);
    await r.close(3_000);
  });
});
