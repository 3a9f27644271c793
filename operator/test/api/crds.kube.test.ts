import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeBase64, meshAddresses, orgDomain } from '@meshguard/core';
import { K1, K3, requireCapability } from '@meshguard/core/testing';
import {
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  meshResourcePath,
  setCondition,
  validateMeshNode,
  validateMeshOrg,
  type ResourceNames,
} from '@meshguard/core/kube';
import { loadCrdManifests, type CrdManifest } from '../../src/api/index.js';
import { KubeCluster, kubeAvailability, kubectlPath } from '../support/kube-cluster.js';
import { clusterNode, externalNode, meshOrg, OFF_CURVE_KEY, ZERO_KEY, type Json } from './fixtures.js';
import { INVALID_CASES } from './invalid-cases.js';
import { apiRequest, CONTENT_TYPE, parseJson, statusCauses, type ApiResponse } from './kube-api.js';

// The CRDs against kube-apiserver itself: the schemas must be structural, every CEL rule must
// compile within the cost budget, and each rule must refuse what it is meant to, with its message.

const CRD_PATH = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const MANAGER = 'meshguard-test';

interface Stored {
  readonly metadata: { readonly generation: number; readonly resourceVersion: string; readonly name: string };
  readonly spec: Json;
  readonly status?: Json;
}

interface CrdStatus {
  readonly metadata: { readonly resourceVersion: string };
  readonly status?: {
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
    readonly acceptedNames?: { readonly shortNames?: readonly string[] };
  };
}

function expectStatus(res: ApiResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: HTTP ${String(res.status)} ${res.body}`);
}

function namesOf(kind: string): ResourceNames {
  return kind === 'MeshOrg' ? MESH_ORG_NAMES : MESH_NODE_NAMES;
}

/** Server-side apply of one object, as the operator and agents write; strict about unknown fields. */
function apply(cluster: KubeCluster, object: Json, options: { dryRun?: boolean } = {}): Promise<ApiResponse> {
  const kind = String(object['kind']);
  const name = String((object['metadata'] as Json)['name']);
  const query = `fieldManager=${MANAGER}&force=true&fieldValidation=Strict${options.dryRun === true ? '&dryRun=All' : ''}`;
  return apiRequest(cluster, 'PATCH', `${meshResourcePath(namesOf(kind), name)}?${query}`, object, CONTENT_TYPE.apply);
}

async function applyCrd(cluster: KubeCluster, crd: CrdManifest): Promise<ApiResponse> {
  const query = `fieldManager=meshguard-operator&force=true&fieldValidation=Strict`;
  return apiRequest(cluster, 'PATCH', `${CRD_PATH}/${crd.name}?${query}`, crd.yaml, CONTENT_TYPE.apply);
}

/**
 * kubectl's table as rows of cells, cut at the header's column offsets: cells can be empty
 * (a condition not yet set) and headers contain single spaces (MESH IPV4).
 */
function kubectlTable(stdout: string): string[][] {
  const [header = '', ...rows] = stdout.trimEnd().split('\n');
  const starts: number[] = [];
  for (const match of header.matchAll(/\S+( \S+)*/g)) starts.push(match.index);
  const cut = (line: string): string[] =>
    starts.map((start, i) => line.slice(start, starts[i + 1] ?? line.length).trim());
  return [cut(header), ...rows.map(cut)];
}

async function waitEstablished(cluster: KubeCluster, name: string): Promise<CrdStatus> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await apiRequest(cluster, 'GET', `${CRD_PATH}/${name}`);
    expectStatus(res, 200, `read CRD ${name}`);
    const crd = parseJson(res) as CrdStatus;
    const established = crd.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
    if (established) return crd;
    if (Date.now() > deadline) assert.fail(`${name} not Established after 30 s: ${res.body}`);
    await sleep(100);
  }
}

describe('meshguard CRDs on kube-apiserver', { timeout: 120_000 }, () => {
  const availability = kubeAvailability();
  let cluster: KubeCluster | undefined;
  let manifests: CrdManifest[] = [];
  const firstApply: ApiResponse[] = [];

  before(async () => {
    manifests = await loadCrdManifests();
    if (!availability.available) return;
    cluster = await KubeCluster.start();
    for (const crd of manifests) firstApply.push(await applyCrd(cluster, crd));
  });

  after(async () => {
    await cluster?.stop();
  });

  function running(t: TestContext): KubeCluster | null {
    if (!requireCapability(t, availability.available, availability.reason)) return null;
    assert.ok(cluster !== undefined);
    return cluster;
  }

  it('installs both CRDs by server-side apply of the files; they become Established, and re-applying changes nothing', async (t) => {
    const c = running(t);
    if (c === null) return;
    for (const [i, crd] of manifests.entries()) {
      expectStatus(firstApply[i]!, 201, `apply ${crd.name}`);
      const stored = await waitEstablished(c, crd.name);
      const conditions = stored.status?.conditions ?? [];
      assert.ok(
        conditions.some((x) => x.type === 'NamesAccepted' && x.status === 'True'),
        crd.name,
      );
      assert.deepEqual(stored.status?.acceptedNames?.shortNames, [crd.name.startsWith('meshorgs') ? 'mo' : 'mn']);
      // The operator applies the CRDs at every start: an unchanged file must not write anything.
      const again = await applyCrd(c, crd);
      expectStatus(again, 200, `re-apply ${crd.name}`);
      assert.equal((parseJson(again) as CrdStatus).metadata.resourceVersion, stored.metadata.resourceVersion);
    }
  });

  it('accepts valid objects, stores the schema defaults, and the stored objects pass the operator validation', async (t) => {
    const c = running(t);
    if (c === null) return;
    for (const c0 of manifests) await waitEstablished(c, c0.name);

    const org = await apply(c, meshOrg('acme'));
    expectStatus(org, 201, 'apply MeshOrg acme');
    const storedOrg = parseJson(org) as Stored;
    assert.deepEqual(storedOrg.spec, {
      certificate: { format: 'v2', lifetime: '90d' },
      enrollmentPolicy: 'AutoInCluster',
      rotation: { keyOverlap: '7d' },
    });
    assert.deepEqual(validateMeshOrg(storedOrg), []);

    const full = meshOrg('globex', {
      displayName: 'Globex',
      dnsAlias: 'globex',
      certificate: { format: 'v1', lifetime: '1h30m' },
      enrollmentPolicy: 'Manual',
      keySecretRef: { name: 'globex-org-key', namespace: 'meshguard-system' },
      rotation: { renewBefore: '30m', keyOverlap: '1y' },
    });
    expectStatus(await apply(c, full), 201, 'apply MeshOrg globex');

    const worker = await apply(c, clusterNode('worker-1'));
    expectStatus(worker, 201, 'apply MeshNode worker-1');
    const storedWorker = parseJson(worker) as Stored;
    assert.deepEqual(
      {
        external: storedWorker.spec['external'],
        approved: storedWorker.spec['approved'],
        revoked: storedWorker.spec['revoked'],
      },
      { external: false, approved: false, revoked: false },
    );
    assert.deepEqual(validateMeshNode(storedWorker, { certificateFormat: 'v2' }), []);

    const db = await apply(
      c,
      externalNode('db-1', {
        dnsName: 'db-primary',
        lifetime: '30d',
        approved: true,
        servicePolicy: {
          defaultAction: 'deny',
          rules: [
            { action: 'allow', protocol: 'tcp', ports: 5432 },
            { action: 'allow', ports: '0-0' },
            { action: 'deny' },
          ],
        },
      }),
    );
    expectStatus(db, 201, 'apply MeshNode db-1');
    const storedDb = parseJson(db) as Stored;
    assert.deepEqual((storedDb.spec['servicePolicy'] as Json)['rules'], [
      { action: 'allow', protocol: 'tcp', ports: 5432 },
      { action: 'allow', protocol: 'all', ports: '0-0' },
      { action: 'deny', protocol: 'all', ports: 'all' },
    ]);
    assert.deepEqual(validateMeshNode(storedDb), []);

    const longName = clusterNode('ip-10-0-12-34.eu-west-1.compute.internal', {
      dnsName: 'ip-10-0-12-34',
      publicKey: encodeBase64(K3.publicKey),
    });
    expectStatus(await apply(c, longName), 201, 'apply MeshNode with a DNS-subdomain name');
  });

  it('refuses invalid objects with the message of the rule they break, as validateMeshOrg/validateMeshNode do', async (t) => {
    const c = running(t);
    if (c === null) return;
    for (const m of manifests) await waitEstablished(c, m.name);
    for (const x of INVALID_CASES) {
      await t.test(x.title, async () => {
        if (x.previous !== undefined) expectStatus(await apply(c, x.previous), 201, `create the object to update`);
        const res = await apply(c, x.object, { dryRun: true });
        expectStatus(res, 422, x.title);
        const causes = statusCauses(res);
        const field = x.apiPath ?? x.path;
        assert.ok(
          causes.some((cause) => (cause.field ?? '') === field && (cause.message ?? '').includes(x.message)),
          `expected "${field}: ${x.message}" among ${JSON.stringify(causes, null, 1)}`,
        );
      });
    }
  });

  it('accepts keys that are canonical base64 but no usable key; only the operator refuses them', async (t) => {
    const c = running(t);
    if (c === null) return;
    for (const [name, publicKey] of [
      ['zero-key', ZERO_KEY],
      ['off-curve-key', OFF_CURVE_KEY],
    ] as const) {
      const node = externalNode(name, { publicKey });
      expectStatus(await apply(c, node, { dryRun: true }), 201, name);
      assert.deepEqual(
        validateMeshNode(node).map((e) => e.path),
        ['spec.publicKey'],
      );
    }
  });

  it('status writes go through the status subresource and leave metadata.generation alone', async (t) => {
    const c = running(t);
    if (c === null) return;
    const name = 'gen-check';
    const created = await apply(c, externalNode(name));
    expectStatus(created, 201, 'create');
    assert.equal((parseJson(created) as Stored).metadata.generation, 1);

    const addresses = meshAddresses(K1.publicKey);
    const conditions = setCondition(undefined, {
      type: 'Ready',
      status: 'True',
      observedGeneration: 1,
      reason: 'CertificateIssued',
      message: 'certificate issued',
    });
    const status = { meshIPv4: addresses.ipv4, meshIPv6: addresses.ipv6, conditions };
    const statusWrite = await apiRequest(
      c,
      'PATCH',
      meshResourcePath(MESH_NODE_NAMES, name, 'status'),
      { status },
      CONTENT_TYPE.mergePatch,
    );
    expectStatus(statusWrite, 200, 'status write');
    const afterStatus = parseJson(statusWrite) as Stored;
    assert.equal(afterStatus.metadata.generation, 1);
    assert.deepEqual(afterStatus.status, status);

    // Through the main resource, status is ignored, and a spec change bumps the generation.
    const specWrite = await apiRequest(
      c,
      'PATCH',
      meshResourcePath(MESH_NODE_NAMES, name),
      { spec: { approved: true }, status: { meshIPv4: '10.99.9.9' } },
      CONTENT_TYPE.mergePatch,
    );
    expectStatus(specWrite, 200, 'spec write');
    const afterSpec = parseJson(specWrite) as Stored;
    assert.equal(afterSpec.metadata.generation, 2);
    assert.equal(afterSpec.status?.['meshIPv4'], addresses.ipv4);

    // The status schema holds conditions to metav1.Condition, as setCondition does.
    const badCondition = await apiRequest(
      c,
      'PATCH',
      meshResourcePath(MESH_NODE_NAMES, name, 'status'),
      { status: { conditions: [{ ...conditions[0], reason: 'not camel case' }] } },
      CONTENT_TYPE.mergePatch,
    );
    expectStatus(badCondition, 422, 'condition with a bad reason');
  });

  it('kubectl get mo / mn prints the columns', async (t) => {
    const c = running(t);
    if (c === null) return;
    if (kubectlPath() === null) {
      t.skip('kubectl not installed');
      return;
    }
    const orgKey = encodeBase64(K3.publicKey);
    const domain = `${orgDomain(K3.publicKey)}.mesh`;
    expectStatus(await apply(c, meshOrg('printed')), 201, 'create MeshOrg');
    const orgStatus = {
      publicKey: orgKey,
      shortPublicKey: orgKey.slice(0, 8),
      meshDomain: domain,
      nodes: 1,
      conditions: setCondition(undefined, {
        type: 'Ready',
        status: 'True',
        observedGeneration: 1,
        reason: 'KeyPublished',
        message: 'org key published',
      }),
    };
    const path = meshResourcePath(MESH_ORG_NAMES, 'printed', 'status');
    expectStatus(await apiRequest(c, 'PATCH', path, { status: orgStatus }, CONTENT_TYPE.mergePatch), 200, 'org status');

    const node = clusterNode('printed-1', { org: 'printed' });
    expectStatus(await apply(c, node), 201, 'create MeshNode');
    const ipv4 = meshAddresses(K1.publicKey).ipv4;
    const nodeStatus = { meshIPv4: ipv4, expiresAt: '2030-01-01T00:00:00Z' };
    const nodePath = meshResourcePath(MESH_NODE_NAMES, 'printed-1', 'status');
    expectStatus(await apiRequest(c, 'PATCH', nodePath, { status: nodeStatus }, CONTENT_TYPE.mergePatch), 200, 'node');

    const orgs = await c.kubectl(['get', 'mo', 'printed']);
    assert.equal(orgs.code, 0, orgs.stderr);
    const [orgHeader, orgRow] = kubectlTable(orgs.stdout);
    assert.deepEqual(orgHeader, ['NAME', 'DOMAIN', 'PUBLIC KEY', 'NODES', 'READY', 'AGE']);
    assert.deepEqual(orgRow?.slice(0, 5), ['printed', domain, orgKey.slice(0, 8), '1', 'True']);

    const nodes = await c.kubectl(['get', 'mn', 'printed-1']);
    assert.equal(nodes.code, 0, nodes.stderr);
    const [nodeHeader, nodeRow] = kubectlTable(nodes.stdout);
    assert.deepEqual(nodeHeader, ['NAME', 'ORG', 'NODE', 'EXTERNAL', 'MESH IPV4', 'READY', 'EXPIRES', 'AGE']);
    assert.deepEqual(nodeRow?.slice(0, 7), [
      'printed-1',
      'printed',
      'printed-1.eu-west-1.compute.internal',
      'false',
      ipv4,
      '',
      '2030-01-01T00:00:00Z',
    ]);

    const wide = await c.kubectl(['get', 'mn', 'printed-1', '-o', 'wide']);
    assert.equal(wide.code, 0, wide.stderr);
    assert.match(wide.stdout.split('\n')[0] ?? '', /DNS NAME\s+ENDPOINT\s+APPROVED\s+REVOKED\s+AGE/);
  });
});
