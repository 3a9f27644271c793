import type { HttpMethod } from '@kubernetes/client-node';
import { isConflict, isNotFound, type KubeRequestOptions, type ObjectMeta } from '@meshguard/core/kube';

/**
 * The one method of KubeClient the reconcilers use. Taking the interface rather than the class
 * lets a test count or interpose writes (idempotence, injected conflicts) without a fake API.
 */
export interface KubeRequester {
  request(method: HttpMethod, path: string, options?: KubeRequestOptions): Promise<unknown>;
}

export { MERGE_PATCH } from '@meshguard/core/kube';

/** The fields of core/v1 Secret and ConfigMap the reconcilers read and write, in wire (JSON) form. */
export interface SecretObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly type?: string;
  /** Base64 values. */
  readonly data?: Readonly<Record<string, string>>;
}

export interface ConfigMapObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
  /** Base64 values. */
  readonly binaryData?: Readonly<Record<string, string>>;
}

/** The object, or undefined on 404; other failures propagate. */
export async function getOptional<T>(
  client: KubeRequester,
  path: string,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  try {
    return (await client.request('GET', path, signal === undefined ? {} : { signal })) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Created, or undefined when it already exists (someone else, or an earlier run of ours, won the race). */
export async function createOptional<T>(
  client: KubeRequester,
  path: string,
  body: unknown,
  signal: AbortSignal | undefined,
): Promise<T | undefined> {
  try {
    return (await client.request('POST', path, { body, ...(signal !== undefined && { signal }) })) as T;
  } catch (err) {
    if (isConflict(err)) return undefined;
    throw err;
  }
}

/**
 * Runs `attempt` again, from a fresh read (`n` > 1 asks for one), after a 409: every write here carries the
 * resourceVersion it was computed from, so a conflict means the decision may be stale and must
 * be remade, never forced through. After `attempts` conflicts the last one propagates and the
 * work queue's backoff takes over.
 */
export async function retryOnConflict<T>(attempt: (n: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt(i);
    } catch (err) {
      if (!isConflict(err) || i >= attempts) throw err;
    }
  }
}
