import {
  bytesEqual,
  decodePublicKeyText,
  decodeSecretKeyFile,
  encodePublicKeyFile,
  encodeSecretKeyFile,
  errorMessage,
  generateKeyPair,
  type Ed25519KeyPair,
} from '@meshguard/core';
import { type MeshOrg, resourcePath, secretResource } from '@meshguard/core/kube';
import { createOptional, getOptional, type KubeRequester, type SecretObject } from './kube-api.js';
import { managedLabels } from './labels.js';

// Ownership of the generated key Secret (DESIGN.md §11, cluster-scoped owner → namespaced object):
// deliberately NOT owned by the MeshOrg — no ownerReference, no finalizer — so deleting the
// MeshOrg keeps the key. Every host outside the cluster trusts the org by its public key
// (trusted_orgs/*.org), and a MeshOrg can vanish for reasons unrelated to retiring the org
// (an uninstall that removes the CRDs deletes every MeshOrg with them). Recreating the MeshOrg
// adopts the Secret of the same name, so the org comes back with the same key, domain and
// certificates. Removing an org for good is an explicit `kubectl delete secret` of the Secret
// labelled meshguard.dev/org=<name>; the operator never destroys key material by itself.

/** Data keys, named as the files of `meshguard org-keygen` (spec §1.6) so the Secret can be mounted as org/. */
export const ORG_KEY_FIELD = 'org.key';
export const ORG_PUB_FIELD = 'org.pub';

export function generatedKeySecretName(org: string): string {
  return `meshguard-org-key-${org}`;
}

export interface KeySecretLocation {
  readonly namespace: string;
  readonly name: string;
  /** False for a bring-your-own Secret (spec.keySecretRef): it is only read, never written. */
  readonly generated: boolean;
}

export function keySecretLocation(org: MeshOrg, operatorNamespace: string): KeySecretLocation {
  const ref = org.spec.keySecretRef;
  if (ref !== undefined) return { namespace: ref.namespace, name: ref.name, generated: false };
  return { namespace: operatorNamespace, name: generatedKeySecretName(org.metadata.name), generated: true };
}

export type OrgKeyResult =
  | { readonly kind: 'ok'; readonly key: Ed25519KeyPair }
  | { readonly kind: 'missing'; readonly message: string }
  | { readonly kind: 'invalid'; readonly message: string };

function decodeField(secret: SecretObject, field: string): string | undefined {
  const value = secret.data?.[field];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('latin1');
}

/**
 * The org key in a Secret, checked as `meshguard up` would check org/org.key, plus: an org.pub
 * beside it must be the same key (a mismatch would sign with one key while the trust ConfigMap
 * publishes another).
 */
export function decodeKeySecret(secret: SecretObject, where: string): OrgKeyResult {
  const keyText = decodeField(secret, ORG_KEY_FIELD);
  if (keyText === undefined) return { kind: 'invalid', message: `Secret ${where} has no ${ORG_KEY_FIELD}` };
  let key: Ed25519KeyPair;
  try {
    key = decodeSecretKeyFile(keyText, `${where} ${ORG_KEY_FIELD}`);
  } catch (err) {
    return { kind: 'invalid', message: errorMessage(err) };
  }
  const pubText = decodeField(secret, ORG_PUB_FIELD);
  if (pubText !== undefined) {
    try {
      if (!bytesEqual(decodePublicKeyText(pubText, `${where} ${ORG_PUB_FIELD}`), key.publicKey)) {
        return {
          kind: 'invalid',
          message: `Secret ${where}: ${ORG_PUB_FIELD} is not the public half of ${ORG_KEY_FIELD}`,
        };
      }
    } catch (err) {
      return { kind: 'invalid', message: errorMessage(err) };
    }
  }
  return { kind: 'ok', key };
}

/** Reads the org key; never creates it (the MeshNode reconciler waits for the MeshOrg reconciler). */
export async function loadOrgKey(
  client: KubeRequester,
  location: KeySecretLocation,
  signal?: AbortSignal,
): Promise<OrgKeyResult> {
  const where = `${location.namespace}/${location.name}`;
  const secret = await getOptional<SecretObject>(
    client,
    resourcePath(secretResource, location.namespace, location.name),
    signal,
  );
  if (secret === undefined) return { kind: 'missing', message: `Secret ${where} not found` };
  return decodeKeySecret(secret, where);
}

function keySecretBody(org: string, location: KeySecretLocation, key: Ed25519KeyPair): SecretObject {
  const b64 = (text: string): string => Buffer.from(text, 'latin1').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: location.name, namespace: location.namespace, labels: managedLabels(org) },
    type: 'Opaque',
    data: { [ORG_KEY_FIELD]: b64(encodeSecretKeyFile(key)), [ORG_PUB_FIELD]: b64(encodePublicKeyFile(key.publicKey)) },
  };
}

/**
 * The org key, generated on first use when the org has no keySecretRef. A generated Secret that
 * exists but is broken is reported, never replaced: replacing it would silently change the org's
 * identity for every peer that trusts it.
 */
export async function ensureOrgKey(
  client: KubeRequester,
  org: MeshOrg,
  operatorNamespace: string,
  signal?: AbortSignal,
): Promise<OrgKeyResult> {
  const location = keySecretLocation(org, operatorNamespace);
  const loaded = await loadOrgKey(client, location, signal);
  if (loaded.kind !== 'missing' || !location.generated) return loaded;
  const key = generateKeyPair();
  const created = await createOptional<SecretObject>(
    client,
    resourcePath(secretResource, location.namespace),
    keySecretBody(org.metadata.name, location, key),
    signal,
  );
  // Lost a race with another run (an old leader, a retry): theirs is the key now.
  if (created === undefined) return loadOrgKey(client, location, signal);
  return { kind: 'ok', key };
}

/** More orgs than this in one cluster is unusual; past it the cache starts over rather than grow. */
const ORG_KEY_CACHE_ENTRIES = 1024;

/**
 * Org keys as last read, reused for up to `ttlMs`: every MeshNode reconcile needs its org's key,
 * and reading and decoding the Secret each time was a fifth of the operator's API requests
 * under a burst of enrollments. A replaced bring-your-own key takes effect within `ttlMs`;
 * failures are never cached, so a key that appears is seen on the next read.
 */
export class OrgKeyCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { readonly key: Ed25519KeyPair; readonly at: number }>();

  constructor(options: { readonly ttlMs?: number; readonly now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  async load(
    client: KubeRequester,
    location: KeySecretLocation,
    fresh: boolean,
    signal?: AbortSignal,
  ): Promise<OrgKeyResult> {
    const id = `${location.namespace}/${location.name}`;
    const hit = this.#entries.get(id);
    if (!fresh && hit !== undefined && this.#now() - hit.at < this.#ttlMs) return { kind: 'ok', key: hit.key };
    const result = await loadOrgKey(client, location, signal);
    if (result.kind === 'ok') {
      if (this.#entries.size >= ORG_KEY_CACHE_ENTRIES) this.#entries.clear();
      this.#entries.set(id, { key: result.key, at: this.#now() });
    } else {
      this.#entries.delete(id);
    }
    return result;
  }
}
