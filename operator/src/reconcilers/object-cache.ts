import type { KubeObject } from '@meshguard/core/kube';
import { getOptional, type KubeRequester } from './kube-api.js';

/**
 * What a reconciler reads from an informer's store: Informer satisfies it. Objects handed out
 * are the store's own, shared with every handler, so they are read, never mutated.
 */
export interface ObjectCache<T extends KubeObject> {
  hasSynced(): boolean;
  /** By `name` for cluster-scoped objects, `namespace/name` otherwise (Informer's keys). */
  get(key: string): T | undefined;
}

/**
 * Reads through a synced cache, as controller-runtime's client does, or from the API server
 * when there is no cache yet or the caller needs the latest version: after a 409, the cache may
 * still hold the version that lost, and retrying from it would lose again.
 */
export async function readObject<T extends KubeObject>(
  client: KubeRequester,
  cache: ObjectCache<T> | undefined,
  key: string,
  path: string,
  fresh: boolean,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  if (!fresh && cache?.hasSynced() === true) return cache.get(key);
  return getOptional<T>(client, path, signal);
}
