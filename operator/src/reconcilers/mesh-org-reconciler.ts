import { encodeBase64, orgDomain } from '@meshguard/core';
import {
  type Condition,
  type ConditionUpdate,
  findCondition,
  formatFieldErrors,
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  type MeshNode,
  MeshNodeCondition,
  type MeshOrg,
  MeshOrgCondition,
  meshResourcePath,
  setCondition,
  validateMeshOrg,
} from '@meshguard/core/kube';
import type { Reconciler, Result } from '../controller/reconciler.js';
import { getOptional, retryOnConflict, type KubeRequester } from './kube-api.js';
import { ensureOrgKey } from './org-key-secret.js';
import { patchStatus, statusDiffers, type StatusFields } from './status-patch.js';
import { ensureTrustConfigMap } from './trust-configmap.js';

export interface MeshOrgReconcilerOptions {
  readonly client: KubeRequester;
  /** Where generated key Secrets and the trust ConfigMaps live (e.g. meshguard-system). */
  readonly namespace: string;
  readonly now?: () => Date;
  /**
   * How soon to look again while the key is missing or invalid: no informer watches Secrets in
   * other namespaces (a bring-your-own key may live anywhere), so fixing one is noticed by polling.
   */
  readonly retryAfterMs?: number;
}

/** MeshOrg → its key Secret, its trust ConfigMap, and a status with the key, domain and node counts. */
export class MeshOrgReconciler implements Reconciler<string> {
  readonly #client: KubeRequester;
  readonly #namespace: string;
  readonly #now: () => Date;
  readonly #retryAfterMs: number;

  constructor(options: MeshOrgReconcilerOptions) {
    this.#client = options.client;
    this.#namespace = options.namespace;
    this.#now = options.now ?? (() => new Date());
    this.#retryAfterMs = options.retryAfterMs ?? 30_000;
  }

  reconcile(name: string, signal?: AbortSignal): Promise<Result> {
    return retryOnConflict(() => this.#reconcileOnce(name, signal));
  }

  async #reconcileOnce(name: string, signal: AbortSignal | undefined): Promise<Result> {
    const org = await getOptional<MeshOrg>(this.#client, meshResourcePath(MESH_ORG_NAMES, name), signal);
    // Gone or going: the key Secret and the revocations stay on purpose (org-key-secret.ts,
    // trust-configmap.ts); the trust ConfigMap goes with its owner through garbage collection.
    if (org === undefined || org.metadata.deletionTimestamp !== undefined) return {};
    const generation = org.metadata.generation ?? 0;
    const now = this.#now();
    let conditions: Condition[] = [...(org.status?.conditions ?? [])];
    const set = (update: Omit<ConditionUpdate, 'observedGeneration'>): void => {
      conditions = setCondition(conditions, { ...update, observedGeneration: generation }, now);
    };
    const status: Record<string, unknown> = {};
    let result: Result = {};

    const errors = validateMeshOrg(org);
    if (errors.length > 0) {
      set({ type: MeshOrgCondition.Ready, status: 'False', reason: 'Invalid', message: formatFieldErrors(errors) });
    } else {
      const key = await ensureOrgKey(this.#client, org, this.#namespace, signal);
      if (key.kind === 'ok') {
        await ensureTrustConfigMap(this.#client, this.#namespace, org, key.key.publicKey, signal);
        const publicKey = encodeBase64(key.key.publicKey);
        Object.assign(status, {
          publicKey,
          shortPublicKey: publicKey.slice(0, 8),
          meshDomain: `${orgDomain(key.key.publicKey)}.mesh`,
        });
        set({ type: MeshOrgCondition.KeyAvailable, status: 'True', reason: 'KeyLoaded', message: 'org key available' });
        set({
          type: MeshOrgCondition.Ready,
          status: 'True',
          reason: 'Ready',
          message: 'org key available, trust ConfigMap published',
        });
      } else {
        // The last good key is not shown as current while the Secret is broken.
        Object.assign(status, { publicKey: null, shortPublicKey: null, meshDomain: null });
        const reason = 'InvalidKeySecret';
        set({ type: MeshOrgCondition.KeyAvailable, status: 'False', reason, message: key.message });
        set({ type: MeshOrgCondition.Ready, status: 'False', reason, message: key.message });
        result = { requeueAfterMs: this.#retryAfterMs };
      }
    }
    Object.assign(status, await this.#nodeCounts(name, signal), { conditions });
    await this.#writeStatus(org, status, signal);
    return result;
  }

  async #nodeCounts(org: string, signal: AbortSignal | undefined): Promise<StatusFields> {
    const list = (await this.#client.request('GET', meshResourcePath(MESH_NODE_NAMES), {
      ...(signal !== undefined && { signal }),
    })) as { items?: MeshNode[] };
    const nodes = (list.items ?? []).filter((n) => n.spec.org === org);
    const is = (n: MeshNode, type: string, status: string, reason?: string): boolean => {
      const c = findCondition(n.status?.conditions, type);
      return c?.status === status && (reason === undefined || c.reason === reason);
    };
    return {
      nodes: nodes.length,
      readyNodes: nodes.filter((n) => is(n, MeshNodeCondition.Ready, 'True')).length,
      pendingNodes: nodes.filter((n) => is(n, MeshNodeCondition.Approved, 'False', 'PendingApproval')).length,
      revokedNodes: nodes.filter((n) => n.spec.revoked === true).length,
    };
  }

  async #writeStatus(org: MeshOrg, status: StatusFields, signal: AbortSignal | undefined): Promise<void> {
    if (!statusDiffers(org.status, status)) return;
    await patchStatus(
      this.#client,
      meshResourcePath(MESH_ORG_NAMES, org.metadata.name, 'status'),
      org.metadata.resourceVersion,
      status,
      signal,
    );
  }
}
