import { type Condition, conditionsEqual, isRecord } from '@meshguard/core/kube';
import { MERGE_PATCH, type KubeRequester } from './kube-api.js';

/** The status fields a reconciler owns; null removes a field (merge patch semantics). */
export type StatusFields = Readonly<Record<string, unknown>>;

/** Structural JSON equality, blind to key order (the API server does not keep ours). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a).filter((k) => a[k] !== undefined);
    return (
      keys.length === Object.keys(b).filter((k) => b[k] !== undefined).length &&
      keys.every((k) => jsonEqual(a[k], b[k]))
    );
  }
  return false;
}

/**
 * Whether writing `desired` would change `current`. Only the listed fields count: status written
 * by others (the agent's endpoint and lastSeen) is not ours to compare or overwrite.
 */
export function statusDiffers(current: unknown, desired: StatusFields): boolean {
  const stored = isRecord(current) ? current : {};
  return Object.entries(desired).some(([field, value]) => {
    const before = stored[field] ?? null;
    if (field === 'conditions') {
      return !conditionsEqual(
        (before as readonly Condition[] | null) ?? undefined,
        (value as readonly Condition[] | null) ?? undefined,
      );
    }
    return !jsonEqual(before, value ?? null);
  });
}

/**
 * Merge patch of the status subresource, preconditioned on the resourceVersion the status was
 * computed from: a concurrent write turns into a 409, which the caller retries from a fresh read
 * (retryOnConflict) instead of overwriting what it did not see.
 */
export async function patchStatus(
  client: KubeRequester,
  statusPath: string,
  resourceVersion: string | undefined,
  status: StatusFields,
  signal?: AbortSignal,
): Promise<void> {
  await client.request('PATCH', statusPath, {
    body: { metadata: { ...(resourceVersion !== undefined && { resourceVersion }) }, status },
    contentType: MERGE_PATCH,
    ...(signal !== undefined && { signal }),
  });
}
