import {
  type KubeObject,
  type ListResult,
  type ListWatcher,
  type WatchEvent,
  type WatchSink,
} from '@meshguard/core/kube';

export interface TestObject extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
}

/** How the next watch call behaves. */
export type WatchBehaviour =
  | { readonly kind: 'ok' }
  /** Never resolves: a connect that hangs. */
  | { readonly kind: 'hang' }
  /** Fails at once, as client-node reports a refused connection or an HTTP error status. */
  | { readonly kind: 'fail'; readonly error: unknown };

interface ActiveWatch {
  readonly sink: WatchSink<TestObject>;
  stopped: boolean;
}

/**
 * A scripted API server for one namespaced collection: objects with resourceVersions from one
 * counter, a list, and watches the test feeds, cuts or silences, so the informer's recovery
 * paths are exercised exactly and without a cluster.
 */
export class FakeListWatcher implements ListWatcher<TestObject> {
  readonly objects = new Map<string, TestObject>();
  readonly watchCalls: string[] = [];
  listCalls = 0;
  /** Events are not delivered while true: the watch "misses" them. */
  deaf = false;
  readonly watchScript: WatchBehaviour[] = [];
  readonly listFailures: Error[] = [];
  stopsCalled = 0;
  #rv = 100;
  #uid = 0;
  #active: ActiveWatch | undefined;
  #hung: (() => void)[] = [];

  get resourceVersion(): string {
    return String(this.#rv);
  }

  get watching(): boolean {
    return this.#active !== undefined && !this.#active.stopped;
  }

  list(signal: AbortSignal): Promise<ListResult<TestObject>> {
    this.listCalls++;
    if (signal.aborted) return Promise.reject(new Error('aborted'));
    const failure = this.listFailures.shift();
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve({ items: [...this.objects.values()], resourceVersion: this.resourceVersion });
  }

  watch(resourceVersion: string, sink: WatchSink<TestObject>): Promise<() => void> {
    this.watchCalls.push(resourceVersion);
    const behaviour = this.watchScript.shift() ?? { kind: 'ok' };
    if (behaviour.kind === 'fail') {
      sink.done(behaviour.error);
      return Promise.resolve(() => undefined);
    }
    const active: ActiveWatch = { sink, stopped: false };
    const stop = (): void => {
      this.stopsCalled++;
      active.stopped = true;
    };
    if (behaviour.kind === 'hang') {
      return new Promise((resolve) => this.#hung.push(() => resolve(stop)));
    }
    this.#active = active;
    return Promise.resolve(stop);
  }

  /** Lets the hung connects complete (late, after the informer gave up on them). */
  releaseHung(): void {
    const hung = this.#hung;
    this.#hung = [];
    for (const resolve of hung) resolve();
  }

  put(name: string, data: Record<string, string> = {}, options: { readonly generation?: number } = {}): TestObject {
    const old = this.objects.get(name);
    const obj: TestObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: 'ns',
        uid: old?.metadata.uid ?? `uid-${String(++this.#uid)}`,
        resourceVersion: String(++this.#rv),
        ...(options.generation !== undefined && { generation: options.generation }),
      },
      data,
    };
    this.objects.set(name, obj);
    this.#send({ type: old === undefined ? 'ADDED' : 'MODIFIED', object: obj });
    return obj;
  }

  remove(name: string): void {
    const old = this.objects.get(name);
    if (old === undefined) return;
    this.objects.delete(name);
    const gone: TestObject = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.#rv) } };
    this.#send({ type: 'DELETED', object: gone });
  }

  /** Deleted and created again under the same name while nobody watched: a new uid. */
  recreateUnseen(name: string): void {
    const deaf = this.deaf;
    this.deaf = true;
    this.remove(name);
    this.objects.set(name, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'ns', uid: `uid-${String(++this.#uid)}`, resourceVersion: String(++this.#rv) },
    });
    this.deaf = deaf;
  }

  bookmark(): void {
    this.#send({ type: 'BOOKMARK', resourceVersion: String(++this.#rv) });
  }

  /** An ERROR event in the stream, as the API server sends 410 Expired. */
  sendError(event: Extract<WatchEvent<TestObject>, { type: 'ERROR' }>): void {
    this.#active?.sink.event(event);
  }

  /** The server ends the stream (undefined: orderly, as at timeoutSeconds). */
  endWatch(error?: unknown): void {
    const active = this.#active;
    this.#active = undefined;
    if (active !== undefined && !active.stopped) active.sink.done(error);
  }

  #send(event: WatchEvent<TestObject>): void {
    if (this.deaf || this.#active === undefined || this.#active.stopped) return;
    this.#active.sink.event(event);
  }
}
