import {
  bytesEqual,
  decodeBase64Exact,
  decodeRevocationFile,
  encodeBase64,
  encodeOrgMessage,
  formatUnixSeconds,
  meshAddresses,
  nodeFqdn,
  revocationReasonName,
  signOrgRevoke,
  verifyOrgMessage,
  type Ed25519KeyPair,
} from '@meshguard/core';
import {
  certificateNodeNameOf,
  certificateVersion,
  type Condition,
  type ConditionUpdate,
  formatFieldErrors,
  type KubeObject,
  MESH_NODE_NAMES,
  MESH_ORG_DEFAULTS,
  MESH_ORG_NAMES,
  type MeshNode,
  MeshNodeCondition,
  type MeshOrg,
  meshResourcePath,
  resourcePath as corePath,
  type ResourceRef,
  REVOCATION_REASONS,
  revocationReasonCode,
  type RevocationReasonText,
  setCondition,
  validateMeshNode,
} from '@meshguard/core/kube';
import type { Reconciler, Result } from '../controller/reconciler.js';
import { lifetimeSeconds, planCertificate, renewBeforeSeconds } from './certificate-plan.js';
import { MERGE_PATCH, retryOnConflict, type KubeRequester } from './kube-api.js';
import { readObject, type ObjectCache } from './object-cache.js';
import { REVOKE_FINALIZER } from './labels.js';
import { generatedKeySecretName, keySecretLocation, OrgKeyCache, type OrgKeyResult } from './org-key-secret.js';
import { patchStatus, statusDiffers } from './status-patch.js';
import { publishRevocation } from './trust-configmap.js';

const nodeResource: ResourceRef = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };

/** setTimeout's limit is 2^31-1 ms (~24.8 days); a day also bounds the effect of a wrong clock. */
const MAX_REQUEUE_MS = 24 * 3600 * 1000;

export interface MeshNodeReconcilerOptions {
  readonly client: KubeRequester;
  /** The operator's namespace: generated org keys and the trust ConfigMaps. */
  readonly namespace: string;
  readonly now?: () => Date;
  /** How soon to look again at what no informer reports here (a missing org or key, a Node to appear). */
  readonly retryAfterMs?: number;
  /** Revocation shard budget (trust-configmap.ts); tests make it small. */
  readonly shardBudgetBytes?: number;
  /** Informer stores to read from instead of the API server; without them every read is a GET. */
  readonly caches?: MeshNodeReconcilerCaches;
  /** How long an org key read from its Secret is reused. */
  readonly orgKeyTtlMs?: number;
}

export interface MeshNodeReconcilerCaches {
  readonly meshNodes?: ObjectCache<MeshNode>;
  readonly meshOrgs?: ObjectCache<MeshOrg>;
  /** Cluster Nodes; only their existence is read. */
  readonly clusterNodes?: ObjectCache<KubeObject>;
}

type Update = Omit<ConditionUpdate, 'observedGeneration'>;

interface Approval {
  readonly approved: boolean;
  readonly message: string;
  /** Not approved yet, but may become so without a MeshNode change (its cluster Node appearing). */
  readonly recheck: boolean;
}

/**
 * MeshNode → approval, a certificate signed by its org, mesh addresses, and, when revoked or
 * deleted, a signed OrgCertRevoke published in the org's revocation ConfigMap.
 */
export class MeshNodeReconciler implements Reconciler<string> {
  readonly #client: KubeRequester;
  readonly #namespace: string;
  readonly #now: () => Date;
  readonly #retryAfterMs: number;
  readonly #shardBudgetBytes: number | undefined;
  readonly #caches: MeshNodeReconcilerCaches;
  readonly #orgKeys: OrgKeyCache;

  constructor(options: MeshNodeReconcilerOptions) {
    this.#client = options.client;
    this.#namespace = options.namespace;
    this.#now = options.now ?? (() => new Date());
    this.#retryAfterMs = options.retryAfterMs ?? 30_000;
    this.#shardBudgetBytes = options.shardBudgetBytes;
    this.#caches = options.caches ?? {};
    this.#orgKeys = new OrgKeyCache(options.orgKeyTtlMs === undefined ? {} : { ttlMs: options.orgKeyTtlMs });
  }

  reconcile(name: string, signal?: AbortSignal): Promise<Result> {
    return retryOnConflict((attempt) => this.#reconcileOnce(name, attempt > 1, signal));
  }

  #readOrg(name: string, fresh: boolean, signal: AbortSignal | undefined): Promise<MeshOrg | undefined> {
    return readObject(this.#client, this.#caches.meshOrgs, name, meshResourcePath(MESH_ORG_NAMES, name), fresh, signal);
  }

  #opts(signal: AbortSignal | undefined): { signal?: AbortSignal } {
    return signal === undefined ? {} : { signal };
  }

  /**
   * `fresh` after a conflict: reads bypass the informer caches (see readObject). A first attempt
   * from the cache may act on a version that is a moment old; every write it makes carries that
   * resourceVersion, so acting on a stale one ends in a 409 and a fresh attempt, never in a write.
   */
  async #reconcileOnce(name: string, fresh: boolean, signal: AbortSignal | undefined): Promise<Result> {
    let node = await readObject(
      this.#client,
      this.#caches.meshNodes,
      name,
      meshResourcePath(MESH_NODE_NAMES, name),
      fresh,
      signal,
    );
    if (node === undefined) return {};
    if (node.metadata.deletionTimestamp !== undefined) return this.#finalize(node, fresh, signal);
    if (!(node.metadata.finalizers ?? []).includes(REVOKE_FINALIZER)) {
      node = await this.#setFinalizers(node, [...(node.metadata.finalizers ?? []), REVOKE_FINALIZER], signal);
    }

    const generation = node.metadata.generation ?? 0;
    const now = this.#now();
    let conditions: Condition[] = [...(node.status?.conditions ?? [])];
    const set = (update: Update): void => {
      conditions = setCondition(conditions, { ...update, observedGeneration: generation }, now);
    };
    const notReady = async (reason: string, message: string, result: Result): Promise<Result> => {
      set({ type: MeshNodeCondition.Ready, status: 'False', reason, message });
      await this.#writeStatus(node, { conditions }, signal);
      return result;
    };
    const retry = { requeueAfterMs: this.#retryAfterMs };

    const orgName = typeof node.spec.org === 'string' ? node.spec.org : '';
    const org = orgName === '' ? undefined : await this.#readOrg(orgName, fresh, signal);
    const format = org?.spec.certificate?.format ?? MESH_ORG_DEFAULTS.certificateFormat;
    const errors = validateMeshNode(node, org === undefined ? {} : { certificateFormat: format });
    if (errors.length > 0) return notReady('Invalid', formatFieldErrors(errors), {});
    if (org === undefined) return notReady('OrgNotFound', `MeshOrg "${orgName}" not found`, retry);
    const key = await this.#orgKeys.load(this.#client, keySecretLocation(org, this.#namespace), fresh, signal);
    if (key.kind !== 'ok') return notReady('OrgKeyUnavailable', key.message, retry);
    const nodeKey = decodeBase64Exact(node.spec.publicKey, 32, 'spec.publicKey');

    if (node.spec.revoked === true) {
      const revocation = await this.#revoke(node, orgName, key.key, nodeKey, signal);
      set({
        type: MeshNodeCondition.CertificateIssued,
        status: 'False',
        reason: 'Revoked',
        message: 'the node is revoked',
      });
      set({
        type: MeshNodeCondition.Revoked,
        status: 'True',
        reason: 'Published',
        message: `OrgCertRevoke published (${revocation.reason})`,
      });
      set({ type: MeshNodeCondition.Ready, status: 'False', reason: 'Revoked', message: 'the node is revoked' });
      await this.#writeStatus(node, { conditions, revocation }, signal);
      return {};
    }

    const approval = await this.#approval(node, org, fresh, signal);
    if (!approval.approved) {
      set({ type: MeshNodeCondition.Approved, status: 'False', reason: 'PendingApproval', message: approval.message });
      set({
        type: MeshNodeCondition.CertificateIssued,
        status: 'False',
        reason: 'PendingApproval',
        message: 'waiting for approval',
      });
      return notReady('PendingApproval', approval.message, approval.recheck ? retry : {});
    }
    set({ type: MeshNodeCondition.Approved, status: 'True', reason: 'Approved', message: approval.message });

    const lifetime = lifetimeSeconds(node.spec.lifetime, org.spec.certificate?.lifetime);
    const version = certificateVersion(format);
    const nodeName = certificateNodeNameOf(node);
    const nowSeconds = BigInt(Math.floor(now.getTime() / 1000));
    const plan = planCertificate(
      key.key,
      node.status?.certificate,
      {
        version,
        nodePublicKey: nodeKey,
        nodeName,
        ...(version === 2 &&
          node.spec.wireguardPublicKey !== undefined && {
            wgPublicKey: decodeBase64Exact(node.spec.wireguardPublicKey, 32, 'spec.wireguardPublicKey'),
          }),
        lifetimeSeconds: lifetime,
        renewBeforeSeconds: renewBeforeSeconds(org.spec.rotation?.renewBefore, lifetime),
      },
      nowSeconds,
    );
    const addresses = meshAddresses(nodeKey);
    const expiresAt = formatUnixSeconds(plan.certificate.expiresAt);
    set({
      type: MeshNodeCondition.CertificateIssued,
      status: 'True',
      reason: 'Issued',
      message: `v${version} certificate valid until ${expiresAt}`,
    });
    set({ type: MeshNodeCondition.Ready, status: 'True', reason: 'Certified', message: 'certificate issued' });
    await this.#writeStatus(
      node,
      {
        conditions,
        certificate: plan.encoded,
        meshIPv4: addresses.ipv4,
        meshIPv6: addresses.ipv6,
        dnsName: nodeFqdn(nodeName, key.key.publicKey),
        issuedAt: formatUnixSeconds(plan.certificate.issuedAt),
        expiresAt,
      },
      signal,
    );
    const untilRenewalMs = Number(plan.renewAt - nowSeconds) * 1000;
    return { requeueAfterMs: Math.min(Math.max(untilRenewalMs, 1000), MAX_REQUEUE_MS) };
  }

  async #approval(node: MeshNode, org: MeshOrg, fresh: boolean, signal: AbortSignal | undefined): Promise<Approval> {
    if (node.spec.approved === true) return { approved: true, message: 'approved by spec.approved', recheck: false };
    const policy = org.spec.enrollmentPolicy ?? MESH_ORG_DEFAULTS.enrollmentPolicy;
    switch (policy) {
      case 'Auto':
        return { approved: true, message: 'approved by the org enrollment policy Auto', recheck: false };
      case 'Manual':
        return { approved: false, message: 'enrollment policy Manual: set spec.approved', recheck: false };
      case 'AutoInCluster': {
        const nodeName = node.spec.nodeName;
        if (nodeName === undefined) {
          return {
            approved: false,
            message: 'external node under policy AutoInCluster: set spec.approved',
            recheck: false,
          };
        }
        // The Node object is what makes "in cluster" true: a MeshNode naming a Node that does not
        // exist is, for enrollment, an external host.
        const clusterNode = await readObject(
          this.#client,
          this.#caches.clusterNodes,
          nodeName,
          corePath(nodeResource, undefined, nodeName),
          fresh,
          signal,
        );
        const exists = clusterNode !== undefined;
        return exists
          ? { approved: true, message: `cluster Node ${nodeName} exists (policy AutoInCluster)`, recheck: false }
          : { approved: false, message: `cluster Node ${nodeName} not found (policy AutoInCluster)`, recheck: true };
      }
    }
  }

  /**
   * Signs (or reuses) and publishes the node's revocation; returns status.revocation. The message
   * already in status, or already published, is reused: re-signing would make a second, different
   * message for the same revocation (its lamport is the signing time).
   */
  async #revoke(
    node: MeshNode,
    org: string,
    key: Ed25519KeyPair,
    nodeKey: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<{ reason: RevocationReasonText; revokedAt: string; message: string }> {
    const previous = this.#statusRevocation(node, key, nodeKey);
    const candidate =
      previous ??
      encodeOrgMessage(
        signOrgRevoke(
          key,
          nodeKey,
          revocationReasonCode(node.spec.revocationReason),
          BigInt(Math.floor(this.#now().getTime() / 1000)),
        ),
      );
    const published = await publishRevocation(this.#client, this.#namespace, org, nodeKey, candidate, {
      ...this.#opts(signal),
      ...(this.#shardBudgetBytes !== undefined && { shardBudgetBytes: this.#shardBudgetBytes }),
    });
    const message = decodeRevocationFile(published);
    const name = revocationReasonName(message.reason);
    return {
      reason: (REVOCATION_REASONS as readonly string[]).includes(name) ? (name as RevocationReasonText) : 'unspecified',
      revokedAt: formatUnixSeconds(message.lamport),
      message: encodeBase64(published),
    };
  }

  #statusRevocation(node: MeshNode, key: Ed25519KeyPair, nodeKey: Uint8Array): Uint8Array | undefined {
    const text = node.status?.revocation?.message;
    if (text === undefined) return undefined;
    try {
      const bytes = decodeBase64Exact(text, 138, 'status.revocation.message');
      const m = decodeRevocationFile(bytes);
      const ours =
        bytesEqual(m.orgPublicKey, key.publicKey) && bytesEqual(m.nodePublicKey, nodeKey) && verifyOrgMessage(m);
      return ours ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Deletion behind the finalizer: publish the revocation, then let the object go. A node that
   * never had a certificate has nothing to revoke. If its org key is gone for good (no MeshOrg
   * and no generated key Secret), nothing can ever sign the revocation, so holding the object
   * would only block its deletion forever.
   */
  async #finalize(node: MeshNode, fresh: boolean, signal: AbortSignal | undefined): Promise<Result> {
    const finalizers = node.metadata.finalizers ?? [];
    if (!finalizers.includes(REVOKE_FINALIZER)) return {};
    const certified = node.status?.certificate !== undefined || node.status?.revocation !== undefined;
    if (certified && validateMeshNode(node).length === 0) {
      const org = await this.#readOrg(node.spec.org, fresh, signal);
      const location =
        org === undefined
          ? { namespace: this.#namespace, name: generatedKeySecretName(node.spec.org), generated: true }
          : keySecretLocation(org, this.#namespace);
      const key: OrgKeyResult = await this.#orgKeys.load(this.#client, location, fresh, signal);
      if (key.kind === 'ok') {
        const nodeKey = decodeBase64Exact(node.spec.publicKey, 32, 'spec.publicKey');
        await this.#revoke(node, node.spec.org, key.key, nodeKey, signal);
      } else if (org !== undefined) {
        // The org exists, so its key should come back (a Secret being restored): keep waiting.
        throw new OrgKeyUnavailableError(
          `cannot revoke MeshNode ${node.metadata.name} before deletion: ${key.message}`,
        );
      }
    }
    await this.#setFinalizers(
      node,
      finalizers.filter((f) => f !== REVOKE_FINALIZER),
      signal,
    );
    return {};
  }

  /** Merge patch of metadata.finalizers (a list, so replaced whole), guarded by resourceVersion. */
  async #setFinalizers(
    node: MeshNode,
    finalizers: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<MeshNode> {
    return (await this.#client.request('PATCH', meshResourcePath(MESH_NODE_NAMES, node.metadata.name), {
      body: { metadata: { resourceVersion: node.metadata.resourceVersion, finalizers } },
      contentType: MERGE_PATCH,
      ...this.#opts(signal),
    })) as MeshNode;
  }

  async #writeStatus(
    node: MeshNode,
    status: Readonly<Record<string, unknown>>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (!statusDiffers(node.status, status)) return;
    await patchStatus(
      this.#client,
      meshResourcePath(MESH_NODE_NAMES, node.metadata.name, 'status'),
      node.metadata.resourceVersion,
      status,
      signal,
    );
  }
}

/** Deletion waits for an org key that should exist; thrown so the work queue retries with backoff. */
export class OrgKeyUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OrgKeyUnavailableError';
  }
}
