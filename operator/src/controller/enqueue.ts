import { type Informer, type KubeObject, objectKey } from '@meshguard/core/kube';

/**
 * Whether an update changed what a reconciler acts on. With a generation (custom resources,
 * and most built-in kinds with a spec), only a spec change bumps it: status writes, including
 * the reconciler's own, do not, so they must not trigger another reconcile (the feedback loop
 * other operators fall into). Deletion counts too: setting deletionTimestamp is how a finalizer
 * learns it must act. Without a generation (ConfigMaps, Secrets) any change counts.
 */
export function generationChanged(oldObj: KubeObject, newObj: KubeObject): boolean {
  const before = oldObj.metadata;
  const after = newObj.metadata;
  if (before.generation === undefined || after.generation === undefined) {
    return before.resourceVersion !== after.resourceVersion;
  }
  return before.generation !== after.generation || before.deletionTimestamp !== after.deletionTimestamp;
}

export interface EnqueueOptions<T extends KubeObject> {
  /** The keys to reconcile for an event on `obj`: its own key by default; an owner's for owned objects. */
  readonly keysOf?: (obj: T) => Iterable<string>;
  /** Default: generationChanged. */
  readonly updateFilter?: (oldObj: T, newObj: T) => boolean;
}

/**
 * Wires an informer to a queue: adds and deletes always enqueue, updates only when the filter
 * says so. Returns the function that disconnects them.
 */
export function enqueueOnChange<T extends KubeObject>(
  informer: Informer<T>,
  queue: { add(key: string): void },
  options: EnqueueOptions<T> = {},
): () => void {
  const keysOf = options.keysOf ?? ((obj: T): Iterable<string> => [objectKey(obj)]);
  const updateFilter = options.updateFilter ?? generationChanged;
  const enqueue = (obj: T): void => {
    for (const key of keysOf(obj)) queue.add(key);
  };
  return informer.addHandlers({
    add: enqueue,
    update: (oldObj, newObj) => {
      if (!updateFilter(oldObj, newObj)) return;
      enqueue(newObj);
      // An owned object whose owner changed must wake the old owner too.
      if (options.keysOf !== undefined) enqueue(oldObj);
    },
    delete: enqueue,
  });
}
