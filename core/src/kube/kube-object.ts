import { KubeDecodeError } from './errors.js';

/**
 * The part of metav1.ObjectMeta the plumbing reads. Objects stay the plain JSON the API server
 * sent (client-node's typed models turn some timestamps into Date objects and leave others as
 * strings, and watch events are never converted at all: one representation avoids both traps).
 */
export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
  readonly ownerReferences?: readonly OwnerReference[];
}

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
  readonly blockOwnerDeletion?: boolean;
}

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}

/** Splits a key made by objectKey. */
export function splitObjectKey(key: string): { readonly namespace: string | undefined; readonly name: string } {
  const slash = key.indexOf('/');
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the metadata every object must have; throws KubeDecodeError otherwise. */
export function asKubeObject(value: unknown, what: string): KubeObject {
  if (!isRecord(value)) throw new KubeDecodeError(`${what}: not a JSON object`);
  const metadata = value['metadata'];
  if (!isRecord(metadata)) throw new KubeDecodeError(`${what}: no metadata`);
  const name = metadata['name'];
  if (typeof name !== 'string' || name === '') throw new KubeDecodeError(`${what}: no metadata.name`);
  for (const field of ['namespace', 'resourceVersion', 'uid'] as const) {
    const v = metadata[field];
    if (v !== undefined && typeof v !== 'string') throw new KubeDecodeError(`${what}: metadata.${field} not a string`);
  }
  const generation = metadata['generation'];
  if (generation !== undefined && typeof generation !== 'number') {
    throw new KubeDecodeError(`${what}: metadata.generation not a number`);
  }
  return value as unknown as KubeObject;
}

/**
 * asKubeObject for an informer's store, without metadata.managedFields: server-side apply's
 * bookkeeping is often the largest part of a small object, and no controller here reads it
 * (controller-runtime's caches drop it for the same reason). Only for freshly decoded JSON,
 * which it changes in place.
 */
export function asCachedKubeObject(value: unknown, what: string): KubeObject {
  const obj = asKubeObject(value, what);
  delete (obj.metadata as { managedFields?: unknown }).managedFields;
  return obj;
}
