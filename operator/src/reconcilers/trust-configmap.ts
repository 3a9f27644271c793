import {
  ArgumentError,
  bytesEqual,
  decodeRevocationFile,
  encodeBase64,
  encodePublicKeyFile,
  orgMessageFileStem,
  type PublicKey,
} from '@meshguard/core';
import {
  CONFIG_DIR_LABEL,
  revokedConfigMapName,
  trustConfigMapName,
  trustedOrgFileName,
  configMapResource,
  MESHGUARD_API_VERSION,
  type MeshOrg,
  type OwnerReference,
  resourcePath,
} from '@meshguard/core/kube';
import { getOptional, retryOnConflict, type ConfigMapObject, type KubeRequester } from './kube-api.js';
import { managedLabels, ORG_LABEL } from './labels.js';

// Layout (decided here; the Helm chart mounts it): ConfigMap keys cannot contain '/', so each
// directory of the agent's config dir (spec §1.2) gets ConfigMaps of its own whose keys are the
// plain file names. Mounting one at <config dir>/trusted_orgs, or a projected volume of the
// revocation shards at <config dir>/revoked, reproduces the on-disk layout without `items`
// (which would have to list every revocation in the pod spec):
//
//   meshguard-trust-<org>          data        <org>.org           → trusted_orgs/<org>.org
//   meshguard-revoked-<org>[-<n>]  binaryData  <hex16>.revoke      → revoked/<hex16>.revoke
//
// All carry meshguard.dev/org and meshguard.dev/config-dir labels, so an agent can also
// list-watch them and write the files itself (it must anyway to apply a revocation at once: the
// kubelet refreshes mounted ConfigMaps only about once a minute).
//
// Ownership: the trusted_orgs ConfigMap is owned by the MeshOrg (a namespaced dependent of a
// cluster-scoped owner is allowed), so deleting the org makes in-cluster agents stop trusting it.
// The revocation ConfigMaps are deliberately not owned: they are the only record of revocations
// of deleted MeshNodes, and the org key outlives its MeshOrg (see org-key-secret.ts); a MeshOrg
// recreated with the same key must still refuse the nodes revoked before.
//
// Size: a ConfigMap holds at most 1 MiB. Revocations go into numbered shards of at most
// `shardBudgetBytes` (default 900 KiB, measured as key + base64 length, an overestimate of the
// API server's key + raw length); a full shard is never repacked, because moving an entry
// between two objects is not atomic and a revocation must never disappear, not even briefly.

export { CONFIG_DIR_LABEL, revokedConfigMapName, trustConfigMapName, trustedOrgFileName };
export const SHARD_LABEL = 'meshguard.dev/shard';
export const DEFAULT_SHARD_BUDGET_BYTES = 900 * 1024;
/** The API server's limit on a ConfigMap's data + binaryData. */
export const CONFIGMAP_LIMIT_BYTES = 1024 * 1024;

export function revocationFileName(nodePublicKey: Uint8Array): string {
  return `${orgMessageFileStem(nodePublicKey)}.revoke`;
}

/** Bytes counted against the budget: every key plus its value as stored in JSON. */
export function configMapSize(cm: Pick<ConfigMapObject, 'data' | 'binaryData'>): number {
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) size += k.length + Buffer.byteLength(v, 'utf8');
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) size += k.length + v.length;
  return size;
}

function ownerReference(org: MeshOrg): OwnerReference | undefined {
  const uid = org.metadata.uid;
  if (uid === undefined) return undefined;
  return { apiVersion: MESHGUARD_API_VERSION, kind: 'MeshOrg', name: org.metadata.name, uid, controller: true };
}

function sameOwners(a: readonly OwnerReference[] | undefined, b: readonly OwnerReference[]): boolean {
  const left = a ?? [];
  const uids = (list: readonly OwnerReference[]): string => list.map((o) => `${o.kind}/${o.uid}`).join(',');
  return uids(left) === uids(b);
}

function sameRecord(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>): boolean {
  const left = a ?? {};
  const keys = Object.keys(b);
  return Object.keys(left).length === keys.length && keys.every((k) => left[k] === b[k]);
}

/**
 * Creates or corrects meshguard-trust-<org>; returns whether it wrote. Nothing is written when the
 * stored object already says the same (the "only rewrite when it differs" rule, DESIGN.md §11).
 */
export async function ensureTrustConfigMap(
  client: KubeRequester,
  namespace: string,
  org: MeshOrg,
  publicKey: PublicKey,
  signal?: AbortSignal,
): Promise<boolean> {
  const name = trustConfigMapName(org.metadata.name);
  const data = { [trustedOrgFileName(org.metadata.name)]: encodePublicKeyFile(publicKey) };
  const owner = ownerReference(org);
  const owners = owner === undefined ? [] : [owner];
  const labels = { ...managedLabels(org.metadata.name), [CONFIG_DIR_LABEL]: 'trusted_orgs' };
  const opts = signal === undefined ? {} : { signal };
  return retryOnConflict(async () => {
    const path = resourcePath(configMapResource, namespace, name);
    const current = await getOptional<ConfigMapObject>(client, path, signal);
    if (current === undefined) {
      const body = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, labels, ownerReferences: owners },
        data,
      };
      // A 409 (created meanwhile) is retried from the read above.
      await client.request('POST', resourcePath(configMapResource, namespace), { body, ...opts });
      return true;
    }
    if (
      sameRecord(current.data, data) &&
      current.binaryData === undefined &&
      sameOwners(current.metadata.ownerReferences, owners)
    ) {
      return false;
    }
    // PUT with the resourceVersion just read: a concurrent writer makes this a 409, not a lost update.
    const body = {
      ...current,
      metadata: { ...current.metadata, labels: { ...current.metadata.labels, ...labels }, ownerReferences: owners },
      data,
    };
    delete (body as { binaryData?: unknown }).binaryData;
    await client.request('PUT', path, { body, ...opts });
    return true;
  });
}

function shardNumber(cm: ConfigMapObject): number {
  const n = Number(cm.metadata.labels?.[SHARD_LABEL] ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** The org's revocation shards, ordered by shard number. */
export async function listRevocationShards(
  client: KubeRequester,
  namespace: string,
  org: string,
  signal?: AbortSignal,
): Promise<ConfigMapObject[]> {
  const list = (await client.request('GET', resourcePath(configMapResource, namespace), {
    query: { labelSelector: `${ORG_LABEL}=${org},${CONFIG_DIR_LABEL}=revoked` },
    ...(signal !== undefined && { signal }),
  })) as { items?: ConfigMapObject[] };
  return [...(list.items ?? [])].sort((a, b) => shardNumber(a) - shardNumber(b));
}

/** The published OrgCertRevoke for this node key, if any shard has one. */
export function findRevocation(shards: readonly ConfigMapObject[], nodePublicKey: Uint8Array): Uint8Array | undefined {
  const file = revocationFileName(nodePublicKey);
  for (const shard of shards) {
    const value = shard.binaryData?.[file];
    if (value === undefined) continue;
    const bytes = new Uint8Array(Buffer.from(value, 'base64'));
    try {
      if (bytesEqual(decodeRevocationFile(bytes).nodePublicKey, nodePublicKey)) return bytes;
    } catch {
      // An unreadable entry is not this node's revocation; publishing ours will replace nothing.
    }
  }
  return undefined;
}

/**
 * Where a new entry of `entryBytes` goes (an index into the shard list): the last shard if it
 * still fits, else a new one after it.
 * Earlier shards are never refilled (see the layout note: entries never move).
 */
export function placeEntry(
  shardSizes: readonly number[],
  entryBytes: number,
  budget: number,
): { readonly shard: number; readonly create: boolean } {
  if (entryBytes > budget)
    throw new ArgumentError(`an entry of ${entryBytes} bytes exceeds the shard budget ${budget}`);
  const last = shardSizes.length - 1;
  if (last >= 0 && shardSizes[last]! + entryBytes <= budget) return { shard: last, create: false };
  return { shard: last + 1, create: true };
}

export interface PublishOptions {
  readonly shardBudgetBytes?: number;
  readonly signal?: AbortSignal;
}

/**
 * Publishes `message` (a 138-byte OrgCertRevoke) unless the org already published one for the
 * same node, and returns the message that is published. Peers keep the first revocation they
 * see (spec §5.3), so an earlier one wins over a re-signed one.
 */
export async function publishRevocation(
  client: KubeRequester,
  namespace: string,
  org: string,
  nodePublicKey: Uint8Array,
  message: Uint8Array,
  options: PublishOptions = {},
): Promise<Uint8Array> {
  const budget = options.shardBudgetBytes ?? DEFAULT_SHARD_BUDGET_BYTES;
  if (!(budget > 0 && budget <= CONFIGMAP_LIMIT_BYTES)) {
    throw new ArgumentError(`shard budget must be in (0, ${CONFIGMAP_LIMIT_BYTES}], got ${budget}`);
  }
  const file = revocationFileName(nodePublicKey);
  const value = encodeBase64(message);
  const opts = options.signal === undefined ? {} : { signal: options.signal };
  return retryOnConflict(async () => {
    const shards = await listRevocationShards(client, namespace, org, options.signal);
    const existing = findRevocation(shards, nodePublicKey);
    if (existing !== undefined) return existing;
    const place = placeEntry(shards.map(configMapSize), file.length + value.length, budget);
    if (place.create) {
      const last = shards.at(-1);
      const number = last === undefined ? 0 : shardNumber(last) + 1;
      const name = revokedConfigMapName(org, number);
      const labels = { ...managedLabels(org), [CONFIG_DIR_LABEL]: 'revoked', [SHARD_LABEL]: String(number) };
      const body = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace, labels },
        binaryData: { [file]: value },
      };
      await client.request('POST', resourcePath(configMapResource, namespace), { body, ...opts });
    } else {
      const shard = shards[place.shard]!;
      const body = { ...shard, binaryData: { ...shard.binaryData, [file]: value } };
      await client.request('PUT', resourcePath(configMapResource, namespace, shard.metadata.name), { body, ...opts });
    }
    return message;
  });
}
