import {
  asCachedKubeObject,
  asKubeObject,
  type Condition,
  findCondition,
  Informer,
  KubeListWatcher,
  type KubeObject,
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  MESHGUARD_API_VERSION,
  type MeshNode,
  MeshNodeCondition,
  type MeshOrg,
  MeshOrgCondition,
  type ResourceRef,
} from '@meshguard/core/kube';
import type { ControllerRegistration, ControllerSetup, SetupContext } from '../app/controller-registration.js';
import { enqueueOnChange, generationChanged } from '../controller/enqueue.js';
import type { EventRecorder, EventType } from '../controller/event-recorder.js';
import { Controller } from '../controller/reconciler.js';
import { lifetimeSeconds, renewBeforeSeconds } from '../reconcilers/certificate-plan.js';
import { MeshNodeReconciler } from '../reconcilers/mesh-node-reconciler.js';
import { MeshOrgReconciler } from '../reconcilers/mesh-org-reconciler.js';

/**
 * The MeshOrg and MeshNode controllers as OperatorApp registrations: which informer events wake
 * which keys, the Events people read with `kubectl describe`, and the domain metrics.
 *
 * Events and metrics are derived from the status transitions the informer observes rather than
 * from inside the reconcilers: a status write is what makes a transition true, a reconcile that
 * fails before its write changed nothing, and the reconcilers stay free of presentation concerns.
 * Those handlers are attached per leadership term, so a standby replica, whose informers see the
 * same transitions, reports nothing.
 */

export const MESH_ORG_CONTROLLER = 'meshorg';
export const MESH_NODE_CONTROLLER = 'meshnode';

export interface MeshControllerOptions {
  /** Concurrent MeshNode reconciles: each is a handful of sequential API calls, so latency, not CPU, bounds one. */
  readonly nodeWorkers?: number;
  readonly orgWorkers?: number;
  /**
   * Node counts in MeshOrg status change with every MeshNode status write; the org reconcile
   * lists all MeshNodes, so bursts of node changes are folded into one org reconcile per window.
   */
  readonly orgCountsDelayMs?: number;
  /** How often meshguard_certificates_expiring is recomputed from the caches. */
  readonly expiringIntervalMs?: number;
  readonly reconcileTimeoutMs?: number;
  readonly now?: () => Date;
}

const coreNodeResource: ResourceRef = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
const meshOrgResource: ResourceRef = {
  apiVersion: MESHGUARD_API_VERSION,
  kind: MESH_ORG_NAMES.kind,
  plural: MESH_ORG_NAMES.plural,
  namespaced: false,
};
const meshNodeResource: ResourceRef = {
  apiVersion: MESHGUARD_API_VERSION,
  kind: MESH_NODE_NAMES.kind,
  plural: MESH_NODE_NAMES.plural,
  namespaced: false,
};

interface SharedInformers {
  readonly orgs: Informer<MeshOrg>;
  readonly nodes: Informer<MeshNode>;
  /** Cluster Nodes, metadata only: approval under AutoInCluster needs nothing but their existence. */
  readonly clusterNodes: Informer<KubeObject>;
}

/**
 * Both registrations read the MeshNode and MeshOrg caches; one informer per resource per app
 * keeps a single watch and a single copy in memory. Keyed by the app's SetupContext, so apps in
 * one process (tests, two replicas) do not share caches.
 */
const shared = new WeakMap<SetupContext, SharedInformers>();

function informersFor(ctx: SetupContext): SharedInformers {
  const existing = shared.get(ctx);
  if (existing !== undefined) return existing;
  const onError =
    (name: string) =>
    (err: unknown, during: string): void => {
      ctx.logger.warn('informer error', { informer: name, during, err });
    };
  const made: SharedInformers = {
    orgs: new Informer<MeshOrg>({
      name: 'meshorgs',
      listWatcher: new KubeListWatcher<MeshOrg>(ctx.client, meshOrgResource, {
        decode: (value, what) => asCachedKubeObject(value, what) as MeshOrg,
      }),
      onError: onError('meshorgs'),
    }),
    nodes: new Informer<MeshNode>({
      name: 'meshnodes',
      listWatcher: new KubeListWatcher<MeshNode>(ctx.client, meshNodeResource, {
        decode: (value, what) => asCachedKubeObject(value, what) as MeshNode,
      }),
      onError: onError('meshnodes'),
    }),
    clusterNodes: new Informer<KubeObject>({
      name: 'nodes',
      listWatcher: new KubeListWatcher<KubeObject>(ctx.client, coreNodeResource, {
        // A real Node carries kilobytes of status and images, rewritten by every kubelet heartbeat.
        decode: (value, what) => {
          const { name, uid, resourceVersion } = asKubeObject(value, what).metadata;
          return {
            metadata: {
              name,
              ...(uid !== undefined && { uid }),
              ...(resourceVersion !== undefined && { resourceVersion }),
            },
          };
        },
      }),
      onError: onError('nodes'),
    }),
  };
  shared.set(ctx, made);
  return made;
}

/** MeshNode names grouped by a string field, kept current from the MeshNode informer for one term. */
class NodeIndex {
  readonly #byKey = new Map<string, Set<string>>();
  readonly #keyOf: (node: MeshNode) => string | undefined;

  constructor(keyOf: (node: MeshNode) => string | undefined) {
    this.#keyOf = keyOf;
  }

  attach(nodes: Informer<MeshNode>): () => void {
    return nodes.addHandlers({
      add: (n) => {
        this.#put(n);
      },
      update: (o, n) => {
        this.#drop(o);
        this.#put(n);
      },
      delete: (n) => {
        this.#drop(n);
      },
    });
  }

  get(key: string): readonly string[] {
    return [...(this.#byKey.get(key) ?? [])];
  }

  #put(node: MeshNode): void {
    const key = this.#keyOf(node);
    if (key === undefined) return;
    let names = this.#byKey.get(key);
    if (names === undefined) this.#byKey.set(key, (names = new Set()));
    names.add(node.metadata.name);
  }

  #drop(node: MeshNode): void {
    const key = this.#keyOf(node);
    if (key === undefined) return;
    const names = this.#byKey.get(key);
    names?.delete(node.metadata.name);
    if (names?.size === 0) this.#byKey.delete(key);
  }
}

const orgOf = (node: MeshNode): string | undefined => (typeof node.spec.org === 'string' ? node.spec.org : undefined);

function sameCondition(a: Condition | undefined, b: Condition | undefined): boolean {
  return a?.status === b?.status && a?.reason === b?.reason;
}

/** What the org's node counts read (mesh-org-reconciler.ts #nodeCounts). */
function countsChanged(o: MeshNode, n: MeshNode): boolean {
  return (
    generationChanged(o, n) ||
    !sameCondition(findCondition(o.status?.conditions, 'Ready'), findCondition(n.status?.conditions, 'Ready')) ||
    !sameCondition(findCondition(o.status?.conditions, 'Approved'), findCondition(n.status?.conditions, 'Approved'))
  );
}

/**
 * What MeshNode reconciles depend on in their org: its spec, and its key becoming available (a
 * node created with its org finds no key yet and would otherwise wait for its retry timer).
 */
function orgChangedForNodes(o: MeshOrg, n: MeshOrg): boolean {
  return generationChanged(o, n) || o.status?.publicKey !== n.status?.publicKey;
}

/** The conditions whose arrival is worth an Event, by type, with the Event type and reason to record. */
const NODE_TRANSITIONS: readonly {
  readonly condition: string;
  readonly status: string;
  readonly reasons?: readonly string[];
  readonly type: EventType;
}[] = [
  { condition: MeshNodeCondition.Revoked, status: 'True', type: 'Normal' },
  { condition: MeshNodeCondition.Approved, status: 'False', reasons: ['PendingApproval'], type: 'Normal' },
  {
    condition: MeshNodeCondition.Ready,
    status: 'False',
    reasons: ['Invalid', 'OrgNotFound', 'OrgKeyUnavailable'],
    type: 'Warning',
  },
];

function recordNodeTransitions(events: EventRecorder, o: MeshNode, n: MeshNode, issued: (org: string) => void): void {
  const before = o.status?.certificate;
  const after = n.status?.certificate;
  if (after !== undefined && after !== before) {
    const org = orgOf(n) ?? '';
    issued(org);
    const until = n.status?.expiresAt ?? 'unknown';
    if (before === undefined) {
      events.event(n, 'Normal', 'CertificateIssued', `certificate signed by MeshOrg ${org}, valid until ${until}`);
    } else {
      events.event(n, 'Normal', 'CertificateRenewed', `certificate re-issued by MeshOrg ${org}, valid until ${until}`);
    }
  }
  for (const t of NODE_TRANSITIONS) {
    const was = findCondition(o.status?.conditions, t.condition);
    const is = findCondition(n.status?.conditions, t.condition);
    if (is === undefined || is.status !== t.status || sameCondition(was, is)) continue;
    if (t.reasons !== undefined && !t.reasons.includes(is.reason)) continue;
    const reason = t.condition === MeshNodeCondition.Revoked ? 'Revoked' : is.reason;
    events.event(n, t.type, reason, is.message === '' ? reason : is.message);
  }
}

function recordOrgTransitions(events: EventRecorder, o: MeshOrg, n: MeshOrg): void {
  const was = findCondition(o.status?.conditions, MeshOrgCondition.Ready);
  const is = findCondition(n.status?.conditions, MeshOrgCondition.Ready);
  if (is === undefined || sameCondition(was, is)) return;
  if (is.status === 'True') events.event(n, 'Normal', 'Ready', is.message === '' ? 'ready' : is.message);
  else if (is.status === 'False') events.event(n, 'Warning', is.reason, is.message === '' ? is.reason : is.message);
}

/**
 * Certificates within their org's renewal window and not yet renewed, per org: what
 * meshguard_certificates_expiring reports. Revoked nodes are left out: they are never renewed.
 */
export function expiringCounts(orgs: readonly MeshOrg[], nodes: readonly MeshNode[], now: Date): Map<string, number> {
  const counts = new Map<string, number>();
  const byName = new Map<string, MeshOrg>();
  for (const org of orgs) {
    byName.set(org.metadata.name, org);
    counts.set(org.metadata.name, 0);
  }
  const nowMs = now.getTime();
  for (const node of nodes) {
    const org = byName.get(orgOf(node) ?? '');
    const expiresAt = node.status?.expiresAt;
    if (org === undefined || expiresAt === undefined || node.spec.revoked === true) continue;
    const expiresMs = Date.parse(expiresAt);
    if (Number.isNaN(expiresMs)) continue;
    const lifetime = lifetimeSeconds(node.spec.lifetime, org.spec.certificate?.lifetime);
    const renewBeforeMs = renewBeforeSeconds(org.spec.rotation?.renewBefore, lifetime) * 1000;
    if (expiresMs - nowMs <= renewBeforeMs) counts.set(org.metadata.name, (counts.get(org.metadata.name) ?? 0) + 1);
  }
  return counts;
}

function meshOrgRegistration(ctx: SetupContext, options: MeshControllerOptions): ControllerRegistration {
  const { orgs, nodes } = informersFor(ctx);
  const delayMs = options.orgCountsDelayMs ?? 1_000;
  return {
    name: MESH_ORG_CONTROLLER,
    informers: [orgs, nodes],
    createController: (term) => {
      const controller = new Controller<string>({
        name: MESH_ORG_CONTROLLER,
        reconciler: new MeshOrgReconciler({
          client: ctx.client,
          namespace: ctx.namespace,
          ...(options.now !== undefined && { now: options.now }),
        }),
        workers: options.orgWorkers ?? 2,
        reconcileTimeoutMs: options.reconcileTimeoutMs ?? 60_000,
        onError: (key, err) => {
          ctx.logger.warn('reconcile failed', { controller: MESH_ORG_CONTROLLER, key, err });
        },
        ...term.instrumentation,
      });
      // A Set flushed on a timer rather than queue.addAfter: these are not retries, and addAfter
      // would count them in workqueue_retries_total.
      const pending = new Set<string>();
      let timer: NodeJS.Timeout | undefined;
      const countLater = (org: string | undefined): void => {
        if (org === undefined || org === '') return;
        pending.add(org);
        timer ??= setTimeout(() => {
          timer = undefined;
          for (const key of pending) controller.queue.add(key);
          pending.clear();
        }, delayMs);
      };
      const undo = [
        enqueueOnChange(orgs, controller.queue),
        nodes.addHandlers({
          add: (n) => {
            countLater(orgOf(n));
          },
          update: (o, n) => {
            if (!countsChanged(o, n)) return;
            countLater(orgOf(o));
            countLater(orgOf(n));
          },
          delete: (n) => {
            countLater(orgOf(n));
          },
        }),
        orgs.addHandlers({
          update: (o, n) => {
            recordOrgTransitions(ctx.events, o, n);
          },
          delete: (o) => {
            ctx.domainMetrics.forgetOrg(o.metadata.name);
          },
        }),
      ];
      return {
        controller,
        dispose: () => {
          for (const u of undo) u();
          clearTimeout(timer);
          timer = undefined;
          pending.clear();
        },
      };
    },
  };
}

function meshNodeRegistration(ctx: SetupContext, options: MeshControllerOptions): ControllerRegistration {
  const { orgs, nodes, clusterNodes } = informersFor(ctx);
  const now = options.now ?? (() => new Date());
  return {
    name: MESH_NODE_CONTROLLER,
    informers: [orgs, nodes, clusterNodes],
    createController: (term) => {
      const controller = new Controller<string>({
        name: MESH_NODE_CONTROLLER,
        reconciler: new MeshNodeReconciler({
          client: ctx.client,
          namespace: ctx.namespace,
          caches: { meshNodes: nodes, meshOrgs: orgs, clusterNodes },
          ...(options.now !== undefined && { now: options.now }),
        }),
        workers: options.nodeWorkers ?? 16,
        reconcileTimeoutMs: options.reconcileTimeoutMs ?? 60_000,
        onError: (key, err) => {
          ctx.logger.warn('reconcile failed', { controller: MESH_NODE_CONTROLLER, key, err });
        },
        ...term.instrumentation,
      });
      const queue = controller.queue;
      const byOrg = new NodeIndex(orgOf);
      const byClusterNode = new NodeIndex((n) => n.spec.nodeName);
      const updateExpiring = (): void => {
        for (const [org, count] of expiringCounts(orgs.list(), nodes.list(), now())) {
          ctx.domainMetrics.setCertificatesExpiring(org, count);
        }
      };
      // The indexes are attached first, so the replay of existing objects fills them before the
      // org and Node handlers below look anything up in them.
      const undo = [
        byOrg.attach(nodes),
        byClusterNode.attach(nodes),
        enqueueOnChange(nodes, queue),
        nodes.addHandlers({
          update: (o, n) => {
            recordNodeTransitions(ctx.events, o, n, (org) => {
              ctx.domainMetrics.certificateIssued(org);
            });
          },
        }),
        enqueueOnChange(orgs, queue, {
          keysOf: (org) => byOrg.get(org.metadata.name),
          updateFilter: orgChangedForNodes,
        }),
        enqueueOnChange(clusterNodes, queue, {
          keysOf: (node) => byClusterNode.get(node.metadata.name),
          // Only a Node's existence matters (approval under AutoInCluster); heartbeats are noise.
          updateFilter: () => false,
        }),
      ];
      updateExpiring();
      const interval = setInterval(updateExpiring, options.expiringIntervalMs ?? 30_000);
      // Timers must not keep a process alive whose work has otherwise ended.
      interval.unref();
      return {
        controller,
        dispose: () => {
          for (const u of undo) u();
          clearInterval(interval);
        },
      };
    },
  };
}

/** The MeshOrg and MeshNode controllers, for OperatorApp's `controllers`. */
export function meshControllers(options: MeshControllerOptions = {}): readonly ControllerSetup[] {
  return [(ctx) => meshOrgRegistration(ctx, options), (ctx) => meshNodeRegistration(ctx, options)];
}
