import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { decodeBase64Exact } from '@meshguard/core';
import { requireCapability } from '@meshguard/core/testing';
import {
  configMapResource,
  findCondition,
  Informer,
  KubeListWatcher,
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  type MeshNode,
  meshResourcePath,
  resourcePath as corePath,
  secretResource,
} from '@meshguard/core/kube';
import { controllers } from '../../src/app/main.js';
import { OperatorApp } from '../../src/app/operator-app.js';
import { OperatorMetrics } from '../../src/metrics/operator-metrics.js';
import { MERGE_PATCH, type ConfigMapObject, type SecretObject } from '../../src/reconcilers/kube-api.js';
import { ORG_LABEL } from '../../src/reconcilers/labels.js';
import { findRevocation, listRevocationShards } from '../../src/reconcilers/trust-configmap.js';
import { kubeAvailability } from '../support/kube-cluster.js';
import {
  newNodeKey,
  newWireGuardKey,
  startReconcilerCluster,
  type ReconcilerCluster,
} from '../reconcilers/cluster-fixture.js';
import { OperatorProcess } from './operator-process.js';

// The operator binary with its real registrations (main.ts `controllers`) against kube-apiserver:
// certificates for a fleet, a crash mid-work, revocation, and two replicas.

const availability = kubeAvailability();
let env: ReconcilerCluster | undefined;
const processes: OperatorProcess[] = [];
const apps: OperatorApp[] = [];

before(async () => {
  if (availability.available) env = await startReconcilerCluster();
});
after(async () => {
  for (const p of processes) await p.stop();
  for (const a of apps) await a.stop();
  await env?.cluster.stop();
});

function running(t: TestContext): ReconcilerCluster | undefined {
  if (!requireCapability(t, availability.available, availability.reason)) return undefined;
  assert.ok(env !== undefined);
  return env;
}

const meshNodeRef = { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshNode', plural: 'meshnodes', namespaced: false };

async function createOrg(e: ReconcilerCluster, name: string): Promise<void> {
  await e.client.request('POST', meshResourcePath(MESH_ORG_NAMES), {
    body: {
      apiVersion: 'meshguard.dev/v1alpha1',
      kind: 'MeshOrg',
      metadata: { name },
      spec: { enrollmentPolicy: 'Auto' },
    },
  });
}

/** Creates MeshNodes in parallel; returns their public keys by name. */
async function createNodes(e: ReconcilerCluster, org: string, names: readonly string[]): Promise<Map<string, string>> {
  const keys = new Map(names.map((n) => [n, newNodeKey()]));
  await Promise.all(
    names.map((name) =>
      e.client.request('POST', meshResourcePath(MESH_NODE_NAMES), {
        body: {
          apiVersion: 'meshguard.dev/v1alpha1',
          kind: 'MeshNode',
          metadata: { name },
          spec: { org, publicKey: keys.get(name), wireguardPublicKey: newWireGuardKey(), external: true },
        },
      }),
    ),
  );
  return keys;
}

async function listNodes(e: ReconcilerCluster, org: string): Promise<MeshNode[]> {
  const list = (await e.client.request('GET', meshResourcePath(MESH_NODE_NAMES))) as { items: MeshNode[] };
  return list.items.filter((n) => n.spec.org === org);
}

function certified(n: MeshNode): boolean {
  const ready = findCondition(n.status?.conditions, 'Ready');
  return n.status?.certificate !== undefined && ready?.status === 'True';
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function allCertified(e: ReconcilerCluster, org: string, count: number, timeoutMs: number): Promise<MeshNode[]> {
  return until(
    `${String(count)} MeshNodes of ${org} certified`,
    async () => {
      const nodes = await listNodes(e, org);
      return nodes.length === count && nodes.every(certified) ? nodes : undefined;
    },
    timeoutMs,
  );
}

/** Every distinct status.certificate each MeshNode has had, as its watch reports them. */
function watchCertificates(e: ReconcilerCluster): { informer: Informer<MeshNode>; seen: Map<string, Set<string>> } {
  const seen = new Map<string, Set<string>>();
  const informer = new Informer<MeshNode>({
    name: 'test-meshnodes',
    listWatcher: new KubeListWatcher<MeshNode>(e.client, meshNodeRef),
  });
  const note = (n: MeshNode): void => {
    const cert = n.status?.certificate;
    if (cert === undefined) return;
    let set = seen.get(n.metadata.name);
    if (set === undefined) seen.set(n.metadata.name, (set = new Set()));
    set.add(cert);
  };
  informer.addHandlers({ add: note, update: (_o, n) => note(n) });
  informer.start();
  return { informer, seen };
}

interface EventItem {
  readonly reason?: string;
  readonly reportingInstance?: string;
  readonly regarding?: { readonly kind?: string; readonly name?: string };
}

async function eventsFor(e: ReconcilerCluster, names: ReadonlySet<string>): Promise<EventItem[]> {
  const list = (await e.client.request('GET', '/apis/events.k8s.io/v1/events')) as { items: EventItem[] };
  return list.items.filter((ev) => ev.regarding?.kind === 'MeshNode' && names.has(ev.regarding.name ?? ''));
}

describe('operator with the MeshOrg and MeshNode registrations against kube-apiserver', { timeout: 300_000 }, () => {
  it('certifies a fleet, survives a SIGKILL mid-work without re-signing or duplicates, and revokes', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const { informer, seen } = watchCertificates(e);
    t.after(() => informer.stop());
    await informer.waitForSync();

    const org = `org-${randomBytes(3).toString('hex')}`;
    const first = new OperatorProcess({ kubeconfigPath: e.cluster.kubeconfigPath, namespace: e.namespace });
    processes.push(first);
    const t0 = Date.now();
    await createOrg(e, org);
    const firstNames = Array.from({ length: 5 }, (_, i) => `${org}-a${String(i)}`);
    await createNodes(e, org, firstNames);
    const five = await allCertified(e, org, 5, 30_000);
    t.diagnostic(`5 MeshNodes certified ${String(Date.now() - t0)} ms after the org was created`);
    for (const n of five) {
      const ready = findCondition(n.status?.conditions, 'Ready');
      assert.equal(ready?.reason, 'Certified');
      assert.equal(ready.observedGeneration, n.metadata.generation);
      assert.equal(findCondition(n.status?.conditions, 'CertificateIssued')?.status, 'True');
      assert.ok(n.status?.issuedAt !== undefined && n.status.meshIPv6 !== undefined);
    }
    const before5 = new Map(five.map((n) => [n.metadata.name, n]));

    // 50 more; the operator dies (no drain, lease not released) as soon as it has started on them.
    const moreNames = Array.from({ length: 50 }, (_, i) => `${org}-b${String(i)}`);
    await createNodes(e, org, moreNames);
    const doneAtKill = await until(
      'the first of the 50 certified',
      async () => {
        const n = (await listNodes(e, org)).filter((x) => x.metadata.name.includes('-b') && certified(x)).length;
        return n > 0 ? n : undefined;
      },
      30_000,
    );
    await first.kill();
    t.diagnostic(`SIGKILL with ${String(doneAtKill)} of the 50 new MeshNodes certified`);
    assert.ok(doneAtKill < 50, 'killed mid-work');

    const killedAt = Date.now();
    const second = new OperatorProcess({ kubeconfigPath: e.cluster.kubeconfigPath, namespace: e.namespace });
    processes.push(second);
    // The dead leader's lease must expire first (15 s default).
    const all = await allCertified(e, org, 55, 90_000);
    t.diagnostic(`all 55 certified ${String(Date.now() - killedAt)} ms after the kill (lease 15 s)`);

    for (const n of all) {
      const ready = findCondition(n.status?.conditions, 'Ready');
      assert.equal(ready?.observedGeneration, n.metadata.generation, n.metadata.name);
      const was = before5.get(n.metadata.name);
      if (was === undefined) continue;
      // Not re-signed, not rewritten at all.
      assert.equal(n.status?.certificate, was.status?.certificate);
      assert.equal(n.status?.issuedAt, was.status?.issuedAt);
      assert.equal(n.metadata.resourceVersion, was.metadata.resourceVersion, `${n.metadata.name} untouched`);
    }
    // Let the watch catch up, then: every MeshNode had exactly one certificate, ever.
    await sleep(500);
    assert.equal(seen.size, 55);
    for (const [name, certs] of seen) assert.equal(certs.size, 1, `${name} signed ${String(certs.size)} times`);

    const secrets = (await e.client.request('GET', corePath(secretResource, e.namespace), {
      query: { labelSelector: `${ORG_LABEL}=${org}` },
    })) as { items: SecretObject[] };
    assert.equal(
      secrets.items.length,
      1,
      `one org key Secret: ${secrets.items.map((s) => s.metadata.name).join(', ')}`,
    );
    const configMaps = (await e.client.request('GET', corePath(configMapResource, e.namespace), {
      query: { labelSelector: `${ORG_LABEL}=${org}` },
    })) as { items: ConfigMapObject[] };
    assert.deepEqual(
      configMaps.items.map((c) => c.metadata.name),
      [`meshguard-trust-${org}`],
    );

    // Revocation through the restarted operator.
    const victim = all[0];
    assert.ok(victim !== undefined);
    await e.client.request('PATCH', meshResourcePath(MESH_NODE_NAMES, victim.metadata.name), {
      body: { spec: { revoked: true } },
      contentType: MERGE_PATCH,
    });
    const nodeKey = decodeBase64Exact(victim.spec.publicKey, 32, 'spec.publicKey');
    const published = await until(
      'the revocation in the revoked ConfigMap',
      async () => findRevocation(await listRevocationShards(e.client, e.namespace, org), nodeKey),
      30_000,
    );
    assert.equal(published.length, 138);
    const revoked = await until(
      'Revoked=True',
      async () => {
        const n = (await e.client.request('GET', meshResourcePath(MESH_NODE_NAMES, victim.metadata.name))) as MeshNode;
        return findCondition(n.status?.conditions, 'Revoked')?.status === 'True' ? n : undefined;
      },
      30_000,
    );
    assert.equal(findCondition(revoked.status?.conditions, 'Ready')?.reason, 'Revoked');

    // Events and domain metrics from the operator now running.
    const names = new Set(all.map((n) => n.metadata.name));
    await until(
      'a Revoked Event',
      async () => ((await eventsFor(e, names)).some((ev) => ev.reason === 'Revoked') ? true : undefined),
      15_000,
    );
    const issuedEvents = (await eventsFor(e, names)).filter((ev) => ev.reason === 'CertificateIssued');
    assert.ok(issuedEvents.length >= 1, 'CertificateIssued Events recorded');
    const text = await second.metrics();
    assert.match(text, new RegExp(`^meshguard_certificates_expiring\\{org="${org}"\\} 0$`, 'm'));
    assert.match(text, /^controller_runtime_reconcile_total\{controller="meshnode",result="requeue_after"\} [1-9]/m);
    await second.stop();
  });

  it('two replicas: only the leader reconciles, records Events and counts certificates', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(e.cluster.kubeconfigPath);
    const lease = `lease-${randomBytes(3).toString('hex')}`;
    const make = (identity: string): OperatorApp => {
      const a = new OperatorApp({
        kubeConfig,
        namespace: e.namespace,
        identity,
        httpAddress: '127.0.0.1:0',
        leaderElection: { leaseName: lease, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 250 },
        controllers,
        metrics: new OperatorMetrics({ defaultMetrics: false }),
        drainTimeoutMs: 2_000,
      });
      apps.push(a);
      return a;
    };
    const a = make('replica-a');
    const b = make('replica-b');
    await Promise.all([a.start(), b.start()]);
    await until('a leader', () => Promise.resolve(a.isLeader || b.isLeader ? true : undefined), 10_000);

    const org = `org-${randomBytes(3).toString('hex')}`;
    await createOrg(e, org);
    const names = Array.from({ length: 10 }, (_, i) => `${org}-n${String(i)}`);
    await createNodes(e, org, names);
    await allCertified(e, org, 10, 30_000);

    assert.equal(Number(a.isLeader) + Number(b.isLeader), 1, 'exactly one leader');
    const [leader, standby] = a.isLeader ? [a, b] : [b, a];
    assert.deepEqual([...leader.runningControllers].sort(), ['meshnode', 'meshorg']);
    assert.deepEqual(standby.runningControllers, []);
    const issued = new RegExp(`^meshguard_certificates_issued_total\\{org="${org}"\\} (\\d+)$`, 'm');
    const leaderText = await leader.metrics.text();
    assert.equal(issued.exec(leaderText)?.[1], '10');
    const standbyText = await standby.metrics.text();
    assert.doesNotMatch(standbyText, issued);
    assert.doesNotMatch(
      standbyText,
      /^controller_runtime_reconcile_total\{controller="meshnode",result="[a-z_]+"\} [1-9]/m,
    );

    const events = await until(
      'CertificateIssued Events for all 10',
      async () => {
        const evs = (await eventsFor(e, new Set(names))).filter((ev) => ev.reason === 'CertificateIssued');
        return evs.length >= 10 ? evs : undefined;
      },
      15_000,
    );
    assert.deepEqual(new Set(events.map((ev) => ev.reportingInstance)), new Set([leader.identity]));
    assert.equal(new Set(events.map((ev) => ev.regarding?.name)).size, 10);
  });
});
