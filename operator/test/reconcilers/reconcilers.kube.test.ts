import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import {
  bytesEqual,
  decodeBase64Exact,
  decodeNodeCertificate,
  decodeRevocationFile,
  decodeSecretKeyFile,
  encodeBase64,
  encodeSecretKeyFile,
  generateKeyPair,
  meshAddresses,
  orgDomain,
  RevocationReason,
  validateCertificate,
  verifyOrgMessage,
} from '@meshguard/core';
import { requireCapability } from '@meshguard/core/testing';
import {
  configMapResource,
  findCondition,
  isNotFound,
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  type MeshNode,
  type MeshOrg,
  meshResourcePath,
  resourcePath as corePath,
  secretResource,
} from '@meshguard/core/kube';
import { MERGE_PATCH, type ConfigMapObject, type SecretObject } from '../../src/reconcilers/kube-api.js';
import { REVOKE_FINALIZER } from '../../src/reconcilers/labels.js';
import { MeshNodeReconciler } from '../../src/reconcilers/mesh-node-reconciler.js';
import { MeshOrgReconciler } from '../../src/reconcilers/mesh-org-reconciler.js';
import { generatedKeySecretName } from '../../src/reconcilers/org-key-secret.js';
import {
  configMapSize,
  findRevocation,
  listRevocationShards,
  revocationFileName,
  trustConfigMapName,
  trustedOrgFileName,
} from '../../src/reconcilers/trust-configmap.js';
import { OFF_CURVE_KEY } from '../api/fixtures.js';
import { kubeAvailability } from '../support/kube-cluster.js';
import {
  newNodeKey,
  newWireGuardKey,
  RecordingClient,
  startReconcilerCluster,
  uniqueName,
  type ReconcilerCluster,
} from './cluster-fixture.js';

const availability = kubeAvailability();
let env: ReconcilerCluster | undefined;

before(async () => {
  if (availability.available) env = await startReconcilerCluster();
});
after(async () => {
  await env?.cluster.stop();
});

function running(t: TestContext): ReconcilerCluster | undefined {
  if (!requireCapability(t, availability.available, availability.reason)) return undefined;
  assert.ok(env !== undefined);
  return env;
}

interface Harness {
  readonly client: RecordingClient;
  readonly orgs: MeshOrgReconciler;
  readonly nodes: MeshNodeReconciler;
}

function harness(e: ReconcilerCluster, options: { now?: () => Date; shardBudgetBytes?: number } = {}): Harness {
  const client = new RecordingClient(e.client);
  const common = { client, namespace: e.namespace, ...(options.now !== undefined && { now: options.now }) };
  return {
    client,
    orgs: new MeshOrgReconciler(common),
    nodes: new MeshNodeReconciler({
      ...common,
      ...(options.shardBudgetBytes !== undefined && { shardBudgetBytes: options.shardBudgetBytes }),
    }),
  };
}

async function createOrg(e: ReconcilerCluster, name: string, spec: Record<string, unknown> = {}): Promise<void> {
  await e.client.request('POST', meshResourcePath(MESH_ORG_NAMES), {
    body: { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg', metadata: { name }, spec },
  });
}

async function createNode(e: ReconcilerCluster, name: string, spec: Record<string, unknown>): Promise<void> {
  await e.client.request('POST', meshResourcePath(MESH_NODE_NAMES), {
    body: { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshNode', metadata: { name }, spec },
  });
}

async function patchNodeSpec(e: ReconcilerCluster, name: string, spec: Record<string, unknown>): Promise<void> {
  await e.client.request('PATCH', meshResourcePath(MESH_NODE_NAMES, name), {
    body: { spec },
    contentType: MERGE_PATCH,
  });
}

const getOrg = async (e: ReconcilerCluster, name: string): Promise<MeshOrg> =>
  (await e.client.request('GET', meshResourcePath(MESH_ORG_NAMES, name))) as MeshOrg;
const getNode = async (e: ReconcilerCluster, name: string): Promise<MeshNode> =>
  (await e.client.request('GET', meshResourcePath(MESH_NODE_NAMES, name))) as MeshNode;

function orgPublicKey(org: MeshOrg): Uint8Array {
  assert.ok(org.status?.publicKey !== undefined, 'status.publicKey set');
  return decodeBase64Exact(org.status.publicKey, 32, 'status.publicKey');
}

function conditionOf(obj: MeshNode | MeshOrg, type: string): { status: string; reason: string; message: string } {
  const c = findCondition(obj.status?.conditions, type);
  assert.ok(c !== undefined, `condition ${type} present in ${JSON.stringify(obj.status)}`);
  return c;
}

/** An org (Auto, v2) reconciled to Ready, and a node spec factory for it. */
async function readyOrg(e: ReconcilerCluster, h: Harness, spec: Record<string, unknown> = {}): Promise<string> {
  const name = uniqueName('org');
  await createOrg(e, name, { enrollmentPolicy: 'Auto', ...spec });
  await h.orgs.reconcile(name);
  assert.equal(conditionOf(await getOrg(e, name), 'Ready').status, 'True');
  return name;
}

describe('MeshOrg and MeshNode reconcilers against kube-apiserver', { timeout: 180_000 }, () => {
  it('creates the org key Secret and trust ConfigMap; status has key, domain, counts; a rerun writes nothing', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const name = uniqueName('org');
    await createOrg(e, name);
    await h.orgs.reconcile(name);
    const secret = (await e.client.request(
      'GET',
      corePath(secretResource, e.namespace, generatedKeySecretName(name)),
    )) as SecretObject;
    assert.equal(secret.type, 'Opaque');
    assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['org.key', 'org.pub']);
    const key = decodeSecretKeyFile(Buffer.from(secret.data?.['org.key'] ?? '', 'base64').toString('latin1'));
    const org = await getOrg(e, name);
    assert.ok(bytesEqual(orgPublicKey(org), key.publicKey));
    assert.equal(org.status?.meshDomain, `${orgDomain(key.publicKey)}.mesh`);
    assert.equal(org.status.shortPublicKey, org.status.publicKey?.slice(0, 8));
    assert.equal(org.status.nodes, 0);
    const ready = findCondition(org.status.conditions, 'Ready');
    assert.equal(ready?.status, 'True');
    assert.equal(ready.observedGeneration, org.metadata.generation);
    const trust = (await e.client.request(
      'GET',
      corePath(configMapResource, e.namespace, trustConfigMapName(name)),
    )) as ConfigMapObject;
    assert.equal(trust.data?.[trustedOrgFileName(name)], `${org.status.publicKey ?? ''}\n`);
    assert.equal(trust.metadata.ownerReferences?.[0]?.uid, org.metadata.uid);

    // A fresh instance (an operator restart) over the same state: no write of any kind.
    const again = harness(e);
    await again.orgs.reconcile(name);
    await again.orgs.reconcile(name);
    assert.deepEqual(again.client.writes, []);
    assert.equal((await getOrg(e, name)).status?.publicKey, org.status.publicKey);
  });

  it('adopts a valid bring-your-own key; an invalid one gives Ready=False InvalidKeySecret without throwing', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const key = generateKeyPair();
    const secretsPath = corePath(secretResource, e.namespace);
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const good = uniqueName('byo');
    await e.client.request('POST', secretsPath, {
      body: { metadata: { name: good }, type: 'Opaque', data: { 'org.key': b64(encodeSecretKeyFile(key)) } },
    });
    const bad = uniqueName('byo');
    await e.client.request('POST', secretsPath, {
      body: { metadata: { name: bad }, type: 'Opaque', data: { 'org.key': b64('not a key\n') } },
    });
    const goodOrg = uniqueName('org');
    await createOrg(e, goodOrg, { keySecretRef: { name: good, namespace: e.namespace } });
    const badOrg = uniqueName('org');
    await createOrg(e, badOrg, { keySecretRef: { name: bad, namespace: e.namespace } });
    await h.orgs.reconcile(goodOrg);
    const result = await h.orgs.reconcile(badOrg);
    assert.ok(bytesEqual(orgPublicKey(await getOrg(e, goodOrg)), key.publicKey));
    const broken = await getOrg(e, badOrg);
    assert.equal(conditionOf(broken, 'Ready').status, 'False');
    assert.equal(conditionOf(broken, 'Ready').reason, 'InvalidKeySecret');
    assert.equal(conditionOf(broken, 'KeyAvailable').reason, 'InvalidKeySecret');
    assert.ok(result.requeueAfterMs !== undefined, 'polls for a fixed Secret');
    // The bring-your-own Secret is never rewritten.
    assert.ok(!h.client.writes.some((w) => w.path.includes('/secrets')));
  });

  it('signs v2 certificates for 3 nodes that verify against the org key, with mesh addresses from the node key', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h);
    const names = ['n1', 'n2', 'n3'].map((n) => uniqueName(n));
    const keys = names.map(() => newNodeKey());
    for (const [i, name] of names.entries()) {
      await createNode(e, name, { org, publicKey: keys[i], wireguardPublicKey: newWireGuardKey(), external: true });
    }
    for (const name of names) {
      const result = await h.nodes.reconcile(name);
      assert.ok((result.requeueAfterMs ?? 0) > 0, 'requeued for renewal');
    }
    const orgKey = orgPublicKey(await getOrg(e, org));
    for (const [i, name] of names.entries()) {
      const node = await getNode(e, name);
      const nodeKey = decodeBase64Exact(keys[i] ?? '', 32, 'key');
      const slot = Buffer.from(node.status?.certificate ?? '', 'base64');
      assert.equal(slot.length, 314);
      const cert = decodeNodeCertificate(new Uint8Array(slot));
      assert.equal(cert.version, 2);
      assert.ok(bytesEqual(cert.wgPublicKey, decodeBase64Exact(node.spec.wireguardPublicKey ?? '', 32, 'wg')));
      const check = validateCertificate(cert, {
        now: BigInt(Math.floor(Date.now() / 1000)),
        expectedNode: nodeKey,
        isTrustedOrg: (k) => bytesEqual(k, orgKey),
        isRevoked: () => false,
      });
      assert.deepEqual(check, { ok: true });
      assert.equal(cert.expiresAt - cert.issuedAt, 90n * 86400n);
      const addresses = meshAddresses(nodeKey);
      assert.equal(node.status?.meshIPv4, addresses.ipv4);
      assert.equal(node.status.meshIPv6, addresses.ipv6);
      assert.equal(node.status.dnsName, `${name}.${orgDomain(orgKey)}.mesh`);
      assert.equal(conditionOf(node, 'Ready').status, 'True');
      assert.ok(node.metadata.finalizers?.includes(REVOKE_FINALIZER));
    }
    await h.orgs.reconcile(org);
    const counted = await getOrg(e, org);
    assert.equal(counted.status?.nodes, 3);
    assert.equal(counted.status.readyNodes, 3);

    // Restart: a new reconciler instance keeps every certificate and writes nothing.
    const before = await Promise.all(names.map(async (n) => (await getNode(e, n)).status?.certificate));
    const restarted = harness(e);
    for (const name of names) await restarted.nodes.reconcile(name);
    await restarted.orgs.reconcile(org);
    assert.deepEqual(restarted.client.writes, []);
    const afterwards = await Promise.all(names.map(async (n) => (await getNode(e, n)).status?.certificate));
    assert.deepEqual(afterwards, before);
  });

  it('issues v1 certificates for a v1 org and uses spec.dnsName as the certificate name', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h, { certificate: { format: 'v1', lifetime: '12h' } });
    const name = uniqueName('v1');
    await createNode(e, name, { org, publicKey: newNodeKey(), external: true, dnsName: 'db-1' });
    await h.nodes.reconcile(name);
    const node = await getNode(e, name);
    const cert = decodeNodeCertificate(new Uint8Array(Buffer.from(node.status?.certificate ?? '', 'base64')));
    assert.equal(cert.version, 1);
    assert.equal(cert.expiresAt - cert.issuedAt, 12n * 3600n);
    assert.match(node.status?.dnsName ?? '', /^db-1\.[0-9a-f]{6}\.mesh$/);
  });

  it('reports an off-curve key (which CEL lets through) as Ready=False Invalid, and a v2 node without WireGuard key', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h);
    const offCurve = uniqueName('bad');
    await createNode(e, offCurve, {
      org,
      publicKey: OFF_CURVE_KEY,
      wireguardPublicKey: newWireGuardKey(),
      external: true,
    });
    const noWg = uniqueName('bad');
    await createNode(e, noWg, { org, publicKey: newNodeKey(), external: true });
    await h.nodes.reconcile(offCurve);
    await h.nodes.reconcile(noWg);
    for (const [name, pattern] of [
      [offCurve, /spec\.publicKey/],
      [noWg, /spec\.wireguardPublicKey/],
    ] as const) {
      const node = await getNode(e, name);
      const ready = conditionOf(node, 'Ready');
      assert.equal(ready.status, 'False');
      assert.equal(ready.reason, 'Invalid');
      assert.match(ready.message, pattern);
      assert.equal(node.status?.certificate, undefined);
    }
  });

  it('Manual policy waits for spec.approved; AutoInCluster approves once the cluster Node exists', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const manualOrg = await readyOrg(e, h, { enrollmentPolicy: 'Manual' });
    const manual = uniqueName('m');
    await createNode(e, manual, {
      org: manualOrg,
      publicKey: newNodeKey(),
      wireguardPublicKey: newWireGuardKey(),
      external: true,
    });
    await h.nodes.reconcile(manual);
    let node = await getNode(e, manual);
    assert.equal(conditionOf(node, 'Approved').reason, 'PendingApproval');
    assert.equal(node.status?.certificate, undefined);
    await h.orgs.reconcile(manualOrg);
    assert.equal((await getOrg(e, manualOrg)).status?.pendingNodes, 1);
    await patchNodeSpec(e, manual, { approved: true });
    await h.nodes.reconcile(manual);
    node = await getNode(e, manual);
    assert.equal(conditionOf(node, 'Approved').status, 'True');
    assert.equal(node.status?.certificate?.length, 420);

    const inCluster = await readyOrg(e, h, { enrollmentPolicy: 'AutoInCluster' });
    const k8sNode = uniqueName('worker');
    const member = uniqueName('ic');
    await createNode(e, member, {
      org: inCluster,
      publicKey: newNodeKey(),
      wireguardPublicKey: newWireGuardKey(),
      nodeName: k8sNode,
    });
    const pending = await h.nodes.reconcile(member);
    assert.equal(conditionOf(await getNode(e, member), 'Approved').status, 'False');
    assert.ok(pending.requeueAfterMs !== undefined, 'rechecks for the Node');
    await e.client.request('POST', '/api/v1/nodes', {
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: k8sNode } },
    });
    await h.nodes.reconcile(member);
    assert.equal(conditionOf(await getNode(e, member), 'Approved').status, 'True');
  });

  it('re-signs only when due: same certificate before renewBefore, a new one after', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    let clock = Date.now();
    const h = harness(e, { now: () => new Date(clock) });
    const org = await readyOrg(e, h, { certificate: { lifetime: '3h' } });
    const name = uniqueName('renew');
    await createNode(e, name, { org, publicKey: newNodeKey(), wireguardPublicKey: newWireGuardKey(), external: true });
    const first = await h.nodes.reconcile(name);
    const initial = (await getNode(e, name)).status?.certificate;
    // Default renewBefore is a third of 3h: renewal due 2h after issue.
    assert.ok(Math.abs((first.requeueAfterMs ?? 0) - 2 * 3600_000) <= 1000, String(first.requeueAfterMs));
    clock += 2 * 3600_000 - 5_000;
    await h.nodes.reconcile(name);
    assert.equal((await getNode(e, name)).status?.certificate, initial);
    clock += 10_000;
    await h.nodes.reconcile(name);
    const renewed = await getNode(e, name);
    assert.notEqual(renewed.status?.certificate, initial);
    const cert = decodeNodeCertificate(new Uint8Array(Buffer.from(renewed.status?.certificate ?? '', 'base64')));
    assert.equal(cert.issuedAt, BigInt(Math.floor(clock / 1000)));
    // A changed WireGuard key re-signs at once.
    await patchNodeSpec(e, name, { wireguardPublicKey: newWireGuardKey() });
    await h.nodes.reconcile(name);
    assert.notEqual((await getNode(e, name)).status?.certificate, renewed.status?.certificate);
  });

  it('revokes through spec.revoked: signed OrgCertRevoke in the revocation ConfigMap and status, once', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h);
    const orgKey = orgPublicKey(await getOrg(e, org));
    const name = uniqueName('rv');
    const key = newNodeKey();
    await createNode(e, name, { org, publicKey: key, wireguardPublicKey: newWireGuardKey(), external: true });
    await h.nodes.reconcile(name);
    await patchNodeSpec(e, name, { revoked: true, revocationReason: 'key-compromised' });
    await h.nodes.reconcile(name);
    const node = await getNode(e, name);
    assert.equal(conditionOf(node, 'Revoked').status, 'True');
    assert.equal(conditionOf(node, 'Ready').reason, 'Revoked');
    assert.equal(node.status?.revocation?.reason, 'key-compromised');
    const nodeKey = decodeBase64Exact(key, 32, 'key');
    const shards = await listRevocationShards(e.client, e.namespace, org);
    const published = findRevocation(shards, nodeKey);
    assert.ok(published !== undefined, 'published in the ConfigMap');
    assert.equal(node.status.revocation.message, encodeBase64(published));
    const message = decodeRevocationFile(published);
    assert.ok(verifyOrgMessage(message));
    assert.ok(bytesEqual(message.orgPublicKey, orgKey));
    assert.equal(message.reason, RevocationReason.keyCompromised);
    assert.ok(shards[0]?.binaryData?.[revocationFileName(nodeKey)] !== undefined);

    const restarted = harness(e);
    await restarted.nodes.reconcile(name);
    assert.deepEqual(restarted.client.writes, [], 'nothing re-signed or rewritten');
  });

  it('revokes on deletion behind the finalizer, then lets the MeshNode go', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h);
    const name = uniqueName('del');
    const key = newNodeKey();
    await createNode(e, name, { org, publicKey: key, wireguardPublicKey: newWireGuardKey(), external: true });
    await h.nodes.reconcile(name);
    await e.client.request('DELETE', meshResourcePath(MESH_NODE_NAMES, name));
    assert.ok((await getNode(e, name)).metadata.deletionTimestamp !== undefined, 'held by the finalizer');
    await h.nodes.reconcile(name);
    await assert.rejects(getNode(e, name), (err) => isNotFound(err));
    const published = findRevocation(
      await listRevocationShards(e.client, e.namespace, org),
      decodeBase64Exact(key, 32, 'k'),
    );
    assert.ok(published !== undefined);
    const message = decodeRevocationFile(published);
    assert.ok(verifyOrgMessage(message));
    assert.equal(message.reason, RevocationReason.adminRemoved);
    assert.ok(bytesEqual(message.orgPublicKey, orgPublicKey(await getOrg(e, org))));
  });

  it('retries a status write that meets a 409 from a concurrent writer', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const h = harness(e);
    const org = await readyOrg(e, h);
    const name = uniqueName('cf');
    await createNode(e, name, { org, publicKey: newNodeKey(), wireguardPublicKey: newWireGuardKey(), external: true });
    let interfered = false;
    h.client.beforeWrite = async (method, path) => {
      if (interfered || !path.endsWith('/status')) return;
      interfered = true;
      // Another writer (the agent reporting lastSeen) changes the object between our read and write.
      await e.client.request('PATCH', meshResourcePath(MESH_NODE_NAMES, name, 'status'), {
        body: { status: { lastSeen: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } },
        contentType: MERGE_PATCH,
      });
      assert.equal(method, 'PATCH');
    };
    await h.nodes.reconcile(name);
    assert.equal(h.client.conflicts.length, 1, 'one 409 seen');
    const node = await getNode(e, name);
    assert.equal(conditionOf(node, 'Ready').status, 'True');
    assert.ok(node.status?.lastSeen !== undefined, "the other writer's field survives");
  });

  it('splits revocations into numbered ConfigMaps under the size budget, none lost', async (t) => {
    const e = running(t);
    if (e === undefined) return;
    const budget = 700; // three 207-byte entries per shard
    const h = harness(e, { shardBudgetBytes: budget });
    const org = await readyOrg(e, h);
    const keys: string[] = [];
    for (let i = 0; i < 7; i++) {
      const name = uniqueName('sh');
      const key = newNodeKey();
      keys.push(key);
      await createNode(e, name, {
        org,
        publicKey: key,
        wireguardPublicKey: newWireGuardKey(),
        external: true,
        revoked: true,
      });
      await h.nodes.reconcile(name);
    }
    const shards = await listRevocationShards(e.client, e.namespace, org);
    assert.equal(shards.length, 3);
    assert.deepEqual(
      shards.map((s) => s.metadata.name),
      [`meshguard-revoked-${org}`, `meshguard-revoked-${org}-1`, `meshguard-revoked-${org}-2`],
    );
    for (const shard of shards) assert.ok(configMapSize(shard) <= budget);
    for (const key of keys) assert.ok(findRevocation(shards, decodeBase64Exact(key, 32, 'k')) !== undefined);
  });
});
