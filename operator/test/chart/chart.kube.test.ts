import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireCapability } from '@meshguard/core/testing';
import { newNodeKey, newWireGuardKey } from '../reconcilers/cluster-fixture.js';
import { KubeCluster, kubeAvailability } from '../support/kube-cluster.js';
import { OperatorProcess } from '../wiring/operator-process.js';
import { helmAvailability, NAMESPACE, renderChart, type RenderedObject } from './helm.js';
import {
  call,
  CONTENT_TYPE,
  objectPath,
  serviceAccountUser,
  statusMessage,
  type Caller,
  type CallResponse,
} from './kube-caller.js';

// The rendered chart against a real kube-apiserver (operator/test/support/kube-cluster.ts): every
// object passes a server-side dry-run apply; applied for real, its admission policy confines each
// agent to its own Node's MeshNode (tried by impersonating the agent ServiceAccount with and
// without a node name, and with a real pod-bound token), its RBAC allows what the programs do and
// nothing else, and the real operator, running with nothing but its ServiceAccount's token,
// certifies and revokes.

const ORG = 'acme';
const AGENT_SA = 'meshguard-agent';
const OPERATOR_SA = 'meshguard-operator';
const MESH_NODES = '/apis/meshguard.dev/v1alpha1/meshnodes';
const MESH_ORGS = '/apis/meshguard.dev/v1alpha1/meshorgs';
const APPLY_AGENT = 'fieldManager=meshguard-agent&force=true&fieldValidation=Strict';

/** The agent ServiceAccount on a Node, as a token bound to a pod there would present it. */
function agentOn(nodeName: string | undefined): Caller {
  return { impersonate: serviceAccountUser(NAMESPACE, AGENT_SA, nodeName) };
}

interface MeshNodeSpec {
  readonly org?: string;
  readonly nodeName?: string | undefined;
  readonly publicKey?: string;
  readonly wireguardPublicKey?: string;
  readonly [field: string]: unknown;
}

function meshNode(name: string, spec: MeshNodeSpec = {}): Record<string, unknown> {
  return {
    apiVersion: 'meshguard.dev/v1alpha1',
    kind: 'MeshNode',
    metadata: { name },
    spec: { org: ORG, nodeName: name, publicKey: newNodeKey(), wireguardPublicKey: newWireGuardKey(), ...spec },
  };
}

/** Server-side apply of a MeshNode as the agent does it. */
function applyNode(cluster: KubeCluster, node: Record<string, unknown>, as: Caller): Promise<CallResponse> {
  const name = (node['metadata'] as { name: string }).name;
  return call(cluster, 'PATCH', `${MESH_NODES}/${name}?${APPLY_AGENT}`, {
    body: JSON.stringify(node),
    contentType: CONTENT_TYPE.apply,
    as,
  });
}

function mergePatch(cluster: KubeCluster, path: string, body: unknown, as?: Caller): Promise<CallResponse> {
  return call(cluster, 'PATCH', path, { body, contentType: CONTENT_TYPE.mergePatch, as });
}

function expectStatus(res: CallResponse, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: HTTP ${String(res.status)} ${res.body}`);
}

/** Refused by the admission policy (403), with a message matching `message`. */
function expectDenied(res: CallResponse, message: RegExp, what: string): void {
  assert.equal(res.status, 403, `${what}: expected 403, got ${String(res.status)} ${res.body}`);
  assert.match(statusMessage(res), /ValidatingAdmissionPolicy 'meshguard-agent-meshnode'/, what);
  assert.match(statusMessage(res), message, what);
}

function applyQuery(dryRun: boolean): string {
  return `fieldManager=helm&force=true&fieldValidation=Strict${dryRun ? '&dryRun=All' : ''}`;
}

async function applyAll(cluster: KubeCluster, objects: readonly RenderedObject[], dryRun: boolean): Promise<void> {
  for (const o of objects) {
    const res = await call(cluster, 'PATCH', `${objectPath(o)}?${applyQuery(dryRun)}`, {
      body: o.yaml,
      contentType: CONTENT_TYPE.apply,
    });
    assert.ok(
      res.status === 200 || res.status === 201,
      `${dryRun ? 'dry-run ' : ''}apply ${o.kind}/${o.name}: HTTP ${String(res.status)} ${res.body}`,
    );
  }
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${String(timeoutMs)} ms`);
    await sleep(200);
  }
}

async function getJson<T>(cluster: KubeCluster, path: string): Promise<T | undefined> {
  const res = await call(cluster, 'GET', path);
  if (res.status === 404) return undefined;
  expectStatus(res, 200, `GET ${path}`);
  return JSON.parse(res.body) as T;
}

interface SubjectAccessReview {
  readonly status?: { readonly allowed?: boolean };
}

interface Access {
  readonly verb: string;
  readonly resource: string;
  readonly group?: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
}

async function allowed(cluster: KubeCluster, sa: string, access: Access): Promise<boolean> {
  const who = serviceAccountUser(NAMESPACE, sa);
  const res = await call(cluster, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: who.user, groups: who.groups, resourceAttributes: { group: '', ...access } },
    },
  });
  expectStatus(res, 201, 'SubjectAccessReview');
  return (JSON.parse(res.body) as SubjectAccessReview).status?.allowed === true;
}

async function tokenFor(cluster: KubeCluster, sa: string, boundPod?: { name: string; uid: string }): Promise<string> {
  const res = await call(cluster, 'POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${sa}/token`, {
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        expirationSeconds: 3600,
        ...(boundPod !== undefined && { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', ...boundPod } }),
      },
    },
  });
  expectStatus(res, 201, `token for ${sa}`);
  return (JSON.parse(res.body) as { status: { token: string } }).status.token;
}

describe('the chart on kube-apiserver', { timeout: 300_000 }, () => {
  const kube = kubeAvailability();
  const helm = helmAvailability();
  const available = kube.available && helm.available;
  const reason = [kube, helm]
    .filter((a) => !a.available)
    .map((a) => a.reason)
    .join('; ');
  let cluster: KubeCluster | undefined;
  let rendered: RenderedObject[] = [];

  before(async () => {
    if (!available) return;
    rendered = renderChart({ org: ORG });
    cluster = await KubeCluster.start();
    expectStatus(
      await call(cluster, 'POST', '/api/v1/namespaces', {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
      }),
      201,
      'create namespace',
    );
  });

  after(async () => {
    await cluster?.stop();
  });

  function running(t: TestContext): KubeCluster | null {
    if (!requireCapability(t, available, reason)) return null;
    assert.ok(cluster !== undefined);
    return cluster;
  }

  it('accepts every rendered object in a server-side dry-run apply with strict field validation', async (t) => {
    const c = running(t);
    if (c === null) return;
    await applyAll(c, rendered, true);
    // A dry run stores nothing.
    assert.equal(await getJson(c, `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/meshguard-agent`), undefined);
  });

  it('applies for real: CRDs Established, the admission policy compiled without errors or type warnings', async (t) => {
    const c = running(t);
    if (c === null) return;
    await applyAll(c, rendered, false);
    for (const crd of ['meshorgs.meshguard.dev', 'meshnodes.meshguard.dev']) {
      await waitFor(`CRD ${crd} Established`, 30_000, async () => {
        const got = await getJson<{ status?: { conditions?: { type: string; status: string }[] } }>(
          c,
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`,
        );
        return got?.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') === true
          ? true
          : undefined;
      });
    }
    // The policy's status is written by the API server's type checker against the CRD schema.
    const status = await waitFor('admission policy type-checked', 30_000, async () => {
      const policy = await getJson<{
        status?: { observedGeneration?: number; typeChecking?: { expressionWarnings?: { warning: string }[] } };
      }>(c, '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/meshguard-agent-meshnode');
      return policy?.status?.observedGeneration === undefined ? undefined : policy.status;
    });
    assert.deepEqual(status.typeChecking?.expressionWarnings ?? [], []);
    // The policy takes effect once the API server's admission plugin has seen it.
    await sleep(1000);
    await waitFor('admission policy in force', 30_000, async () => {
      const res = await applyNode(c, meshNode('probe-b'), agentOn('probe-a'));
      return res.status === 403 ? true : undefined;
    });
  });

  it('an agent creates and updates the MeshNode of its own Node, and only that one', async (t) => {
    const c = running(t);
    if (c === null) return;
    const a = agentOn('node-a');
    const nodeA = meshNode('node-a');
    expectStatus(await applyNode(c, nodeA, a), 201, 'agent A creates node-a');
    // A fresh tunnel key at every start.
    const spec = nodeA['spec'] as MeshNodeSpec;
    expectStatus(
      await applyNode(c, { ...nodeA, spec: { ...spec, wireguardPublicKey: newWireGuardKey() } }, a),
      200,
      'new wg key',
    );

    expectDenied(
      await applyNode(c, meshNode('node-b'), a),
      /may write only MeshNode node-a, not node-b/,
      'A creates node-b',
    );
    expectDenied(
      await applyNode(c, meshNode('node-x', { nodeName: 'node-a' }), a),
      /may write only MeshNode node-a, not node-x/,
      'A creates another name for its Node',
    );
    expectDenied(
      await applyNode(c, meshNode('node-n', { nodeName: 'node-b' }), agentOn('node-n')),
      /must set spec.nodeName to node-n/,
      'N names another Node in its own object',
    );
    expectDenied(
      await applyNode(c, meshNode('node-c', { org: 'globex' }), agentOn('node-c')),
      /only in MeshOrg acme/,
      'C enrolls in another org',
    );
    expectDenied(
      await applyNode(c, meshNode('node-d', { external: true, nodeName: undefined }), agentOn('node-d')),
      /spec.nodeName to node-d/,
      'D creates an external MeshNode',
    );
    // Without the node name (a token not bound to a pod on a Node) nothing is allowed, not even its own.
    expectDenied(
      await applyNode(c, meshNode('node-e'), agentOn(undefined)),
      /bound to a pod on a Node/,
      'no node name',
    );
    assert.equal(await getJson(c, `${MESH_NODES}/node-b`), undefined);
  });

  it('an agent cannot approve, revoke, un-revoke, rename, extend or re-policy its MeshNode, nor drop its finalizer', async (t) => {
    const c = running(t);
    if (c === null) return;
    const a = agentOn('node-f');
    const node = meshNode('node-f');
    const spec = node['spec'] as MeshNodeSpec;
    const withSpec = (extra: Record<string, unknown>): Record<string, unknown> => ({
      ...node,
      spec: { ...spec, ...extra },
    });
    // Self-approval on create is refused as well as on update.
    expectDenied(
      await applyNode(c, withSpec({ approved: true }), a),
      /may not set or change spec.approved/,
      'create approved',
    );
    expectStatus(await applyNode(c, node, a), 201, 'create node-f');
    for (const [field, value] of [
      ['approved', true],
      ['revoked', true],
      ['dnsName', 'db-1'],
      ['lifetime', '10y'],
      ['servicePolicy', { defaultAction: 'allow' }],
    ] as const) {
      expectDenied(
        await applyNode(c, withSpec({ [field]: value }), a),
        new RegExp(`may not set or change spec.${field}`),
        field,
      );
    }
    // What an administrator set stays; the agent re-applying its own fields leaves it alone.
    const path = `${MESH_NODES}/node-f`;
    expectStatus(
      await mergePatch(c, path, { metadata: { finalizers: ['meshguard.dev/revoke'] }, spec: { approved: true } }),
      200,
      'admin approves node-f and adds the finalizer',
    );
    expectStatus(await applyNode(c, withSpec({ wireguardPublicKey: newWireGuardKey() }), a), 200, 'agent re-applies');
    expectDenied(await applyNode(c, withSpec({ approved: false }), a), /spec.approved/, 'agent withdraws approval');
    expectDenied(
      await mergePatch(c, path, { metadata: { finalizers: null } }, a),
      /metadata.finalizers/,
      'agent drops the finalizer',
    );
    expectDenied(
      await mergePatch(
        c,
        path,
        { metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-f', uid: '0' }] } },
        a,
      ),
      /metadata.ownerReferences/,
      'agent adds an owner',
    );
    // Once an administrator revokes it, the agent cannot hide the revocation either (the CRD's
    // own rules refuse some of these first, with 422: either refusal will do).
    expectStatus(
      await mergePatch(c, path, { spec: { revoked: true, revocationReason: 'key-compromised' } }),
      200,
      'admin revokes',
    );
    for (const [what, extra] of [
      ['un-revokes', { revoked: false }],
      ['rewrites the reason', { revoked: true, revocationReason: 'unspecified' }],
    ] as const) {
      const res = await applyNode(c, withSpec(extra), a);
      assert.ok(res.status === 403 || res.status === 422, `agent ${what}: HTTP ${String(res.status)} ${res.body}`);
    }
    const dropReason = await mergePatch(c, path, { spec: { revocationReason: null } }, a);
    assert.ok(dropReason.status === 403 || dropReason.status === 422, `agent drops the reason: ${dropReason.body}`);
    const stored = await getJson<{ spec: MeshNodeSpec }>(c, path);
    assert.deepEqual(
      [stored?.spec['approved'], stored?.spec['revoked'], stored?.spec['revocationReason']],
      [true, true, 'key-compromised'],
    );
    // An administrator is not bound by the policy.
    expectStatus(await mergePatch(c, path, { spec: { lifetime: '30d' } }), 200, 'admin sets the lifetime');
  });

  it('an agent writes only endpoint and lastSeen of its own status', async (t) => {
    const c = running(t);
    if (c === null) return;
    const g = agentOn('node-g');
    expectStatus(await applyNode(c, meshNode('node-g'), g), 201, 'create node-g');
    expectStatus(await applyNode(c, meshNode('node-h'), agentOn('node-h')), 201, 'create node-h');
    const status = `${MESH_NODES}/node-g/status`;
    const seen = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    expectStatus(
      await mergePatch(c, status, { status: { endpoint: '192.0.2.10:51821', lastSeen: seen } }, g),
      200,
      'endpoint and lastSeen',
    );
    // What the operator wrote stays, and the agent can still report.
    expectStatus(
      await mergePatch(c, status, { status: { meshIPv4: '10.99.1.2', dnsName: 'node-g.abc123.mesh' } }),
      200,
      'operator',
    );
    expectStatus(await mergePatch(c, status, { status: { endpoint: '192.0.2.11:51821' } }, g), 200, 'new endpoint');
    const certificate = Buffer.alloc(314, 7).toString('base64');
    expectDenied(
      await mergePatch(c, status, { status: { certificate } }, g),
      /only status.endpoint and status.lastSeen, not status.certificate/,
      'certificate injection',
    );
    expectDenied(
      await mergePatch(c, status, { status: { meshIPv4: '10.99.9.9' } }, g),
      /status.meshIPv4/,
      'own address',
    );
    expectDenied(await mergePatch(c, status, { status: { dnsName: null } }, g), /status.dnsName/, 'removing a field');
    expectDenied(
      await mergePatch(
        c,
        status,
        {
          status: {
            conditions: [{ type: 'Ready', status: 'True', reason: 'Forged', message: '', lastTransitionTime: seen }],
          },
        },
        g,
      ),
      /status.conditions/,
      'conditions',
    );
    expectDenied(
      await mergePatch(c, `${MESH_NODES}/node-h/status`, { status: { endpoint: '192.0.2.66:51821' } }, g),
      /may write only MeshNode node-g, not node-h/,
      "another Node's status",
    );
    const stored = await getJson<{ status: Record<string, unknown> }>(c, `${MESH_NODES}/node-g`);
    assert.deepEqual(stored?.status, {
      endpoint: '192.0.2.11:51821',
      lastSeen: seen,
      meshIPv4: '10.99.1.2',
      dnsName: 'node-g.abc123.mesh',
    });
  });

  it('a real token bound to an agent pod carries its Node: it may write that MeshNode only', async (t) => {
    const c = running(t);
    if (c === null) return;
    expectStatus(
      await call(c, 'POST', '/api/v1/nodes', {
        body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-k' } },
      }),
      201,
      'create Node node-k',
    );
    const pod = await call(c, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
      body: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'agent-on-node-k' },
        spec: {
          nodeName: 'node-k',
          serviceAccountName: AGENT_SA,
          containers: [{ name: 'agent', image: 'meshguard:0.1.0' }],
        },
      },
    });
    expectStatus(pod, 201, 'create the agent pod');
    const uid = (JSON.parse(pod.body) as { metadata: { uid: string } }).metadata.uid;
    const token = await tokenFor(c, AGENT_SA, { name: 'agent-on-node-k', uid });
    expectStatus(await applyNode(c, meshNode('node-k'), { token }), 201, 'pod token creates node-k');
    expectDenied(
      await applyNode(c, meshNode('node-l'), { token }),
      /may write only MeshNode node-k, not node-l/,
      'pod token, node-l',
    );
    // The same ServiceAccount's token without a pod has no Node: refused.
    const unbound = await tokenFor(c, AGENT_SA);
    expectDenied(
      await applyNode(c, meshNode('node-m'), { token: unbound }),
      /bound to a pod on a Node/,
      'unbound token',
    );
  });

  it('RBAC: each ServiceAccount may do what its program does, and no more', async (t) => {
    const c = running(t);
    if (c === null) return;
    const mg = 'meshguard.dev';
    const cases: readonly [string, Access, boolean][] = [
      // agent
      [AGENT_SA, { verb: 'list', resource: 'configmaps', namespace: NAMESPACE }, true],
      [AGENT_SA, { verb: 'watch', resource: 'configmaps', namespace: NAMESPACE }, true],
      [AGENT_SA, { verb: 'get', resource: 'configmaps', namespace: 'kube-system' }, false],
      [AGENT_SA, { verb: 'get', resource: 'secrets', namespace: NAMESPACE }, false],
      [AGENT_SA, { verb: 'list', resource: 'secrets', namespace: NAMESPACE }, false],
      [AGENT_SA, { verb: 'update', resource: 'configmaps', namespace: NAMESPACE }, false],
      [AGENT_SA, { verb: 'watch', group: mg, resource: 'meshnodes' }, true],
      [AGENT_SA, { verb: 'delete', group: mg, resource: 'meshnodes', name: 'node-a' }, false],
      [AGENT_SA, { verb: 'update', group: mg, resource: 'meshnodes', name: 'node-a' }, false],
      [AGENT_SA, { verb: 'update', group: mg, resource: 'meshnodes', subresource: 'status', name: 'node-a' }, false],
      [AGENT_SA, { verb: 'patch', group: mg, resource: 'meshorgs', name: ORG }, false],
      [AGENT_SA, { verb: 'patch', group: mg, resource: 'meshorgs', subresource: 'status', name: ORG }, false],
      [AGENT_SA, { verb: 'get', resource: 'nodes', name: 'node-a' }, false],
      [AGENT_SA, { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'default' }, false],
      // operator
      [OPERATOR_SA, { verb: 'get', resource: 'secrets', namespace: NAMESPACE }, true],
      [OPERATOR_SA, { verb: 'list', resource: 'secrets', namespace: NAMESPACE }, false],
      [OPERATOR_SA, { verb: 'update', resource: 'secrets', namespace: NAMESPACE }, false],
      [OPERATOR_SA, { verb: 'delete', resource: 'secrets', namespace: NAMESPACE }, false],
      [OPERATOR_SA, { verb: 'get', resource: 'secrets', namespace: 'kube-system' }, false],
      [OPERATOR_SA, { verb: 'delete', resource: 'configmaps', namespace: NAMESPACE }, false],
      [OPERATOR_SA, { verb: 'create', resource: 'configmaps', namespace: 'kube-system' }, false],
      [
        OPERATOR_SA,
        {
          verb: 'update',
          group: 'coordination.k8s.io',
          resource: 'leases',
          namespace: NAMESPACE,
          name: 'meshguard-operator',
        },
        true,
      ],
      [
        OPERATOR_SA,
        {
          verb: 'update',
          group: 'coordination.k8s.io',
          resource: 'leases',
          namespace: NAMESPACE,
          name: 'kube-scheduler',
        },
        false,
      ],
      [OPERATOR_SA, { verb: 'create', group: 'events.k8s.io', resource: 'events', namespace: 'default' }, true],
      [OPERATOR_SA, { verb: 'delete', group: mg, resource: 'meshnodes', name: 'node-a' }, false],
      [OPERATOR_SA, { verb: 'create', group: mg, resource: 'meshorgs' }, false],
      [OPERATOR_SA, { verb: 'update', group: mg, resource: 'meshnodes', name: 'node-a' }, false],
      [OPERATOR_SA, { verb: 'patch', resource: 'nodes', name: 'node-a' }, false],
      [OPERATOR_SA, { verb: 'list', resource: 'pods', namespace: NAMESPACE }, false],
    ];
    const wrong: string[] = [];
    for (const [sa, access, expected] of cases) {
      if ((await allowed(c, sa, access)) !== expected)
        wrong.push(`${sa} ${JSON.stringify(access)}: expected ${String(expected)}`);
    }
    assert.deepEqual(wrong, []);
    // And through the front door: the agent's read of a Secret is refused.
    const secret = await call(c, 'GET', `/api/v1/namespaces/${NAMESPACE}/secrets`, { as: agentOn('node-a') });
    expectStatus(secret, 403, 'agent lists Secrets');
  });

  it('the operator certifies and revokes with nothing but its ServiceAccount token', async (t) => {
    const c = running(t);
    if (c === null) return;
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-operator-sa-'));
    let operator: OperatorProcess | undefined;
    try {
      const token = await tokenFor(c, OPERATOR_SA);
      const kubeconfigPath = join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfigPath,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'test',
              cluster: { server: c.server, 'certificate-authority-data': Buffer.from(c.admin.ca).toString('base64') },
            },
          ],
          users: [{ name: OPERATOR_SA, user: { token } }],
          contexts: [{ name: 'test', context: { cluster: 'test', user: OPERATOR_SA } }],
          'current-context': 'test',
        }),
        { mode: 0o600 },
      );
      // A cluster Node and the MeshNode its agent applies, approved by AutoInCluster.
      expectStatus(
        await call(c, 'POST', '/api/v1/nodes', {
          body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-op' } },
        }),
        201,
        'create Node node-op',
      );
      expectStatus(await applyNode(c, meshNode('node-op'), agentOn('node-op')), 201, 'agent applies node-op');
      expectStatus(
        await call(c, 'POST', MESH_ORGS, {
          body: { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg', metadata: { name: ORG }, spec: {} },
        }),
        201,
        'create MeshOrg',
      );
      operator = new OperatorProcess({ kubeconfigPath, namespace: NAMESPACE });
      const op = operator;
      const certified = await waitFor('node-op certified', 60_000, async () => {
        const node = await getJson<{ status?: { certificate?: string } }>(c, `${MESH_NODES}/node-op`);
        return node?.status?.certificate;
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}\noperator log:\n${op.log}`, { cause: err });
      });
      assert.equal(Buffer.from(certified, 'base64').length, 314);
      // Trust published where the agents read it, and readable by them.
      const trust = await call(c, 'GET', `/api/v1/namespaces/${NAMESPACE}/configmaps/meshguard-trust-${ORG}`, {
        as: agentOn('node-op'),
      });
      expectStatus(trust, 200, 'agent reads the trust ConfigMap');

      expectStatus(await mergePatch(c, `${MESH_NODES}/node-op`, { spec: { revoked: true } }), 200, 'revoke node-op');
      await waitFor('revocation published', 60_000, async () => {
        const list = await getJson<{ items: { metadata: { name: string } }[] }>(
          c,
          `/api/v1/namespaces/${NAMESPACE}/configmaps?labelSelector=${encodeURIComponent(`meshguard.dev/org=${ORG}`)}`,
        );
        return list?.items.some((cm) => cm.metadata.name.startsWith(`meshguard-revoked-${ORG}`)) === true
          ? true
          : undefined;
      });
      // Events about the cluster-scoped MeshOrg and MeshNodes, recorded in `default`.
      await waitFor('an Event from the operator', 30_000, async () => {
        const events = await getJson<{ items: { reportingController?: string; regarding?: { kind?: string } }[] }>(
          c,
          '/apis/events.k8s.io/v1/namespaces/default/events',
        );
        return events?.items.some(
          (e) => e.reportingController === 'meshguard.dev/operator' && e.regarding?.kind === 'MeshNode',
        )
          ? true
          : undefined;
      });
      assert.doesNotMatch(operator.log, /forbidden/i, operator.log);
    } finally {
      await operator?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
