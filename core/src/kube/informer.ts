import { ArgumentError } from '../index.js';
import { sleep, systemClock, type Clock } from './clock.js';
import { KubeTransportError, isGone } from './errors.js';
import { objectKey, type KubeObject } from './kube-object.js';
import type { ListResult, ListWatcher, WatchEvent } from './list-watcher.js';

export interface InformerHandlers<T> {
  readonly add?: (obj: T) => void;
  /** Only for a real change: the resourceVersion differs. */
  readonly update?: (oldObj: T, newObj: T) => void;
  /**
   * `finalStateUnknown`: the deletion was inferred from a re-list (the watch missed it), and
   * `obj` is the last state seen, as client-go's DeletedFinalStateUnknown.
   */
  readonly delete?: (obj: T, finalStateUnknown: boolean) => void;
}

export interface InformerOptions<T> {
  readonly name?: string;
  readonly listWatcher: ListWatcher<T>;
  readonly clock?: Clock;
  /**
   * A watch (or an attempt to open one) with no sign of life for this long is abandoned and
   * reopened: the defence against the silent stall. client-node 2.0.1's Watch already ends a
   * stream silent for 30 s, so on a healthy stream this never fires; it catches what that timer
   * does not (a connect that never resolves, a stream of bytes that never form an event, a
   * future client that drops its timer).
   */
  readonly watchdogMs?: number;
  /** Retry delays after failures: client-go's reflector uses 800 ms doubling to 30 s, jittered. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly random?: () => number;
  /** Failures the informer recovered from (it never gives up); for logs. */
  readonly onError?: (err: unknown, during: 'list' | 'watch' | 'handler') => void;
}

export interface InformerStats {
  /** Successful lists: 1 after the initial sync, +1 per re-list. */
  readonly lists: number;
  readonly listErrors: number;
  readonly watchesStarted: number;
  readonly watchErrors: number;
  /** Watches ended by 410 Gone (resourceVersion compacted away), each followed by a re-list. */
  readonly expired: number;
  readonly watchdogRestarts: number;
  readonly events: number;
  readonly resourceVersion: string;
  /** clock.now() of the last list, watch connect or event: a health check can alarm on its age. */
  readonly lastProgressAt: number;
}

type WatchOutcome =
  | { readonly kind: 'stopped' }
  | { readonly kind: 'expired' }
  | { readonly kind: 'watchdog' }
  | { readonly kind: 'closed'; readonly events: number; readonly lastedMs: number }
  | { readonly kind: 'error'; readonly error: unknown };

/** A watch that ends sooner than this with no event is a failure (client-go: "very short watch"). */
const SHORT_WATCH_MS = 1000;

/**
 * List+watch of one resource into an in-memory store keyed by `namespace/name` (or `name`), with
 * add/update/delete handlers. It never stops on its own: after any failure it retries with
 * backoff, resuming the watch from the last resourceVersion seen; after 410 Gone it re-lists and
 * reports the difference to its handlers (deletions it missed included).
 *
 * Built on client-node's raw Watch rather than its ListWatch informer, which stops for good on
 * most errors (KubeClient.watch gives the full reasons).
 */
export class Informer<T extends KubeObject> {
  readonly name: string;
  readonly #lw: ListWatcher<T>;
  readonly #clock: Clock;
  readonly #watchdogMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #random: () => number;
  readonly #onError: (err: unknown, during: 'list' | 'watch' | 'handler') => void;
  readonly #store = new Map<string, T>();
  readonly #handlers = new Set<InformerHandlers<T>>();
  #syncWaiters: ((synced: boolean) => void)[] = [];
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;
  #synced = false;
  #failures = 0;
  #stats = {
    lists: 0,
    listErrors: 0,
    watchesStarted: 0,
    watchErrors: 0,
    expired: 0,
    watchdogRestarts: 0,
    events: 0,
    resourceVersion: '',
    lastProgressAt: 0,
  };

  constructor(options: InformerOptions<T>) {
    this.name = options.name ?? 'informer';
    this.#lw = options.listWatcher;
    this.#clock = options.clock ?? systemClock;
    this.#watchdogMs = options.watchdogMs ?? 120_000;
    this.#initialBackoffMs = options.initialBackoffMs ?? 800;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.#random = options.random ?? Math.random;
    this.#onError = options.onError ?? (() => undefined);
    for (const [what, v] of [
      ['watchdog', this.#watchdogMs],
      ['initial backoff', this.#initialBackoffMs],
      ['max backoff', this.#maxBackoffMs],
    ] as const) {
      if (!(v > 0 && Number.isFinite(v))) throw new ArgumentError(`${what} must be a positive number of ms`);
    }
  }

  /**
   * Registers handlers and returns their removal. Objects already in the store are replayed to
   * `add` first, so handlers registered after the sync miss nothing.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.#handlers.add(handlers);
    if (handlers.add !== undefined) for (const obj of this.#store.values()) this.#call(() => handlers.add?.(obj));
    return () => {
      this.#handlers.delete(handlers);
    };
  }

  start(): void {
    if (this.#running !== undefined) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#run(stop.signal);
  }

  /** Ends the watch and the loop; the store keeps its last contents. Resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#running;
    this.#running = undefined;
    this.#stop = undefined;
    this.#resolveSyncWaiters(false);
  }

  /** True once the first list has been applied; stays true (the store only gets fresher). */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once synced, false if the informer is stopped or `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (this.#running === undefined || signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        this.#syncWaiters = this.#syncWaiters.filter((w) => w !== waiter);
        resolve(false);
      };
      const waiter = (synced: boolean): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(synced);
      };
      this.#syncWaiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(): T[] {
    return [...this.#store.values()];
  }

  keys(): string[] {
    return [...this.#store.keys()];
  }

  get size(): number {
    return this.#store.size;
  }

  get stats(): InformerStats {
    return { ...this.#stats };
  }

  async #run(signal: AbortSignal): Promise<void> {
    // A function, so the type checker does not carry the loop condition's narrowing across awaits.
    const stopped = (): boolean => signal.aborted;
    let needList = true;
    while (!stopped()) {
      if (needList) {
        let listed: ListResult<T>;
        try {
          listed = await this.#lw.list(signal);
        } catch (err) {
          if (stopped()) return;
          this.#stats.listErrors++;
          this.#onError(err, 'list');
          await this.#backoff(signal);
          continue;
        }
        if (stopped()) return;
        this.#stats.lists++;
        this.#progress();
        this.#replace(listed);
        needList = false;
      }

      const outcome = await this.#watchOnce(signal);
      switch (outcome.kind) {
        case 'stopped':
          return;
        case 'expired':
          this.#stats.expired++;
          needList = true;
          break;
        case 'watchdog':
          this.#stats.watchdogRestarts++;
          break;
        case 'closed':
          if (outcome.events === 0 && outcome.lastedMs < SHORT_WATCH_MS) {
            this.#stats.watchErrors++;
            const why = `watch closed after ${String(outcome.lastedMs)} ms without an event`;
            this.#onError(new KubeTransportError(why), 'watch');
            await this.#backoff(signal);
          } else {
            this.#failures = 0;
          }
          break;
        case 'error':
          this.#stats.watchErrors++;
          this.#onError(outcome.error, 'watch');
          await this.#backoff(signal);
          break;
      }
    }
  }

  /** One watch from the current resourceVersion, until it ends, fails, stalls or the informer stops. */
  #watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    this.#stats.watchesStarted++;
    const startedAt = this.#clock.now();
    return new Promise((resolve) => {
      // An object, not a local boolean: it is flipped from callbacks the type checker cannot follow.
      const state = { settled: false };
      let events = 0;
      let stopWatch: (() => void) | undefined;
      let cancelWatchdog = (): void => undefined;
      const finish = (outcome: WatchOutcome): void => {
        if (state.settled) return;
        state.settled = true;
        cancelWatchdog();
        signal.removeEventListener('abort', onStop);
        stopWatch?.();
        resolve(outcome);
      };
      const onStop = (): void => {
        finish({ kind: 'stopped' });
      };
      const arm = (): void => {
        cancelWatchdog();
        cancelWatchdog = this.#clock.setTimer(() => {
          finish({ kind: 'watchdog' });
        }, this.#watchdogMs);
      };
      if (signal.aborted) {
        finish({ kind: 'stopped' });
        return;
      }
      signal.addEventListener('abort', onStop, { once: true });
      // Armed before connecting: an attempt that never connects is as stalled as a silent stream.
      arm();
      this.#lw
        .watch(this.#stats.resourceVersion, {
          event: (event) => {
            if (state.settled) return;
            arm();
            if (event.type === 'ERROR') {
              finish(isGone(event.error) ? { kind: 'expired' } : { kind: 'error', error: event.error });
              return;
            }
            events++;
            this.#stats.events++;
            this.#progress();
            this.#apply(event);
          },
          done: (error) => {
            if (error === undefined) finish({ kind: 'closed', events, lastedMs: this.#clock.now() - startedAt });
            else finish(isGone(error) ? { kind: 'expired' } : { kind: 'error', error });
          },
        })
        .then(
          (stop) => {
            if (state.settled) stop();
            else {
              stopWatch = stop;
              this.#stats.lastProgressAt = this.#clock.now();
              arm();
            }
          },
          (error: unknown) => {
            finish({ kind: 'error', error });
          },
        );
    });
  }

  #apply(event: Exclude<WatchEvent<T>, { type: 'ERROR' }>): void {
    if (event.type === 'BOOKMARK') {
      this.#stats.resourceVersion = event.resourceVersion;
      return;
    }
    const obj = event.object;
    const key = objectKey(obj);
    const old = this.#store.get(key);
    if (obj.metadata.resourceVersion !== undefined) this.#stats.resourceVersion = obj.metadata.resourceVersion;
    if (event.type === 'DELETED') {
      if (old === undefined) return;
      this.#store.delete(key);
      this.#emitDelete(obj, false);
      return;
    }
    this.#store.set(key, obj);
    if (old === undefined) this.#emitAdd(obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emitUpdate(old, obj);
  }

  /** The store becomes exactly the list; handlers hear the difference. */
  #replace(listed: ListResult<T>): void {
    const fresh = new Map<string, T>();
    for (const obj of listed.items) fresh.set(objectKey(obj), obj);
    for (const [key, old] of this.#store) {
      const now = fresh.get(key);
      // Same name, new uid: deleted and re-created while the watch was down.
      if (now === undefined || (old.metadata.uid !== undefined && now.metadata.uid !== old.metadata.uid)) {
        this.#store.delete(key);
        this.#emitDelete(old, true);
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.#store.get(key);
      this.#store.set(key, obj);
      if (old === undefined) this.#emitAdd(obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.#emitUpdate(old, obj);
    }
    this.#stats.resourceVersion = listed.resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      this.#resolveSyncWaiters(true);
    }
  }

  #emitAdd(obj: T): void {
    for (const h of this.#handlers) if (h.add !== undefined) this.#call(() => h.add?.(obj));
  }

  #emitUpdate(old: T, obj: T): void {
    for (const h of this.#handlers) if (h.update !== undefined) this.#call(() => h.update?.(old, obj));
  }

  #emitDelete(obj: T, finalStateUnknown: boolean): void {
    for (const h of this.#handlers) if (h.delete !== undefined) this.#call(() => h.delete?.(obj, finalStateUnknown));
  }

  /** A throwing handler must not take the informer (and every other handler) down with it. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#onError(err, 'handler');
    }
  }

  /** A list or an event got through: the path to the API server works, the next failure backs off from the start. */
  #progress(): void {
    this.#stats.lastProgressAt = this.#clock.now();
    this.#failures = 0;
  }

  async #backoff(signal: AbortSignal): Promise<void> {
    const base = Math.min(this.#maxBackoffMs, this.#initialBackoffMs * 2 ** this.#failures);
    this.#failures++;
    // Jitter up to +100% as client-go, but never beyond the cap.
    const delay = Math.min(this.#maxBackoffMs, base * (1 + this.#random()));
    await sleep(this.#clock, delay, signal);
  }

  #resolveSyncWaiters(synced: boolean): void {
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    for (const w of waiters) w(synced);
  }
}
