import { systemClock, type Clock } from '@meshguard/core/kube';
import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.js';

/**
 * Hooks a metrics layer (prom-client, with controller-runtime's `workqueue_*` names) attaches
 * to; each is called synchronously at the moment the event happens. Gauges that are sampled
 * rather than pushed (unfinished work, longest running processor) are methods of the queue.
 */
export interface WorkQueueMetrics {
  /** workqueue_adds_total: a key became pending (a duplicate add does not count). */
  readonly add?: () => void;
  /** workqueue_depth: keys waiting to be handed to a worker. */
  readonly depth?: (depth: number) => void;
  /** workqueue_retries_total: a delayed or rate-limited add, as client-go counts it. */
  readonly retry?: () => void;
  /** workqueue_queue_duration_seconds: from the add to a worker taking the key. */
  readonly queueDuration?: (seconds: number) => void;
  /** workqueue_work_duration_seconds: from a worker taking the key to its done(). */
  readonly workDuration?: (seconds: number) => void;
}

/** Keys are compared by value: strings (`namespace/name`) in practice. */
export type QueueKey = string | number | bigint;

export interface WorkQueueOptions<K extends QueueKey = string> {
  readonly name?: string;
  readonly clock?: Clock;
  /** Default: client-go's controller limiter (5 ms → 1000 s per key, 10 qps burst 100 overall). */
  readonly rateLimiter?: RateLimiter<K>;
  readonly metrics?: WorkQueueMetrics;
}

/**
 * client-go's rate-limited delaying work queue, for a single-threaded runtime whose workers are
 * async loops.
 *
 * Guarantees, which the controller depends on:
 * - a key is pending at most once however often it is added (de-duplication);
 * - a key is never handed to two workers at once: added while being processed, it is parked
 *   (dirty) and queued again only when its worker calls done(), so no change is lost;
 * - keys are handed out in the order they became pending.
 *
 * One difference from client-go, on purpose: after shutDown() get() returns no more keys, even
 * pending ones. A controller stops because it lost its lease or the process is terminating, and
 * level-triggered reconciles started then would race the next leader; whatever was pending is
 * picked up again by that leader's initial list.
 */
export class WorkQueue<K extends QueueKey = string> {
  readonly name: string;
  readonly #clock: Clock;
  readonly #rateLimiter: RateLimiter<K>;
  readonly #metrics: WorkQueueMetrics;
  // A Set iterates in insertion order: a FIFO in which a key can be queued at most once.
  readonly #queue = new Set<K>();
  // Keys needing processing: queued, or being processed and added again since.
  readonly #dirty = new Set<K>();
  // Key → when a worker took it.
  readonly #processing = new Map<K, number>();
  // Key → when it became pending, for the queue-duration metric.
  readonly #addedAt = new Map<K, number>();
  readonly #waiting = new Map<K, { readonly readyAt: number; readonly cancel: () => void }>();
  #getters: ((key: K | undefined) => void)[] = [];
  #drainWaiters: (() => void)[] = [];
  #shuttingDown = false;

  constructor(options: WorkQueueOptions<K> = {}) {
    this.name = options.name ?? 'queue';
    this.#clock = options.clock ?? systemClock;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>();
    this.#metrics = options.metrics ?? {};
  }

  /** Makes `key` pending unless it already is; ignored once shut down. */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics.add?.();
    this.#dirty.add(key);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.#clock.now());
    if (this.#processing.has(key)) return; // done() queues it again
    this.#queue.add(key);
    this.#reportDepth();
    this.#dispatch();
  }

  /**
   * The next pending key, waiting for one if needed; undefined once the queue is shut down.
   * The caller owns the key until it calls done(key).
   */
  get(): Promise<K | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#takeNext();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Releases a key taken with get(); if it was added meanwhile, it is queued again now. */
  done(key: K): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#metrics.workDuration?.(this.#secondsSince(startedAt));
    if (!this.#shuttingDown && this.#dirty.has(key)) {
      this.#queue.add(key);
      this.#reportDepth();
      this.#dispatch();
    }
    if (this.#processing.size === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  /** Adds `key` after `delayMs`; a key already waiting keeps the earlier of the two times. */
  addAfter(key: K, delayMs: number): void {
    if (this.#shuttingDown) return;
    this.#metrics.retry?.();
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + delayMs;
    const waiting = this.#waiting.get(key);
    if (waiting !== undefined) {
      if (waiting.readyAt <= readyAt) return;
      waiting.cancel();
    }
    const cancel = this.#clock.setTimer(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.#waiting.set(key, { readyAt, cancel });
  }

  /** Adds `key` when the rate limiter allows: the retry path after a failed reconcile. */
  addRateLimited(key: K): void {
    if (this.#shuttingDown) return;
    this.addAfter(key, this.#rateLimiter.when(key, this.#clock.now()));
  }

  /** `key` succeeded: its backoff starts again from the base delay. Does not remove a pending add. */
  forget(key: K): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /**
   * Stops handing out keys and accepting adds; drops pending and delayed keys. Workers blocked in
   * get() receive undefined. Keys being processed may still be done().
   */
  shutDown(): void {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      for (const { cancel } of this.#waiting.values()) cancel();
      this.#waiting.clear();
      this.#queue.clear();
      this.#dirty.clear();
      this.#addedAt.clear();
      this.#reportDepth();
      const getters = this.#getters;
      this.#getters = [];
      for (const resolve of getters) resolve(undefined);
    }
  }

  /** shutDown(), then resolves once every key taken before it has been done(). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Keys pending and not yet taken by a worker (workqueue_depth). */
  get depth(): number {
    return this.#queue.size;
  }

  /** Keys taken by workers and not yet done. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting for a delayed add. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** workqueue_unfinished_work_seconds: work in progress, summed over keys; a stuck worker makes it grow. */
  unfinishedWorkSeconds(): number {
    let total = 0;
    for (const startedAt of this.#processing.values()) total += this.#secondsSince(startedAt);
    return total;
  }

  /** workqueue_longest_running_processor_seconds. */
  longestRunningProcessorSeconds(): number {
    let longest = 0;
    for (const startedAt of this.#processing.values()) longest = Math.max(longest, this.#secondsSince(startedAt));
    return longest;
  }

  #takeNext(): K | undefined {
    const next = this.#queue.values().next();
    if (next.done === true) return undefined;
    const key = next.value;
    const now = this.#clock.now();
    this.#queue.delete(key);
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#metrics.queueDuration?.(Math.max(0, now - addedAt) / 1000);
    this.#reportDepth();
    return key;
  }

  #dispatch(): void {
    while (this.#getters.length > 0 && this.#queue.size > 0) {
      const resolve = this.#getters.shift();
      const key = this.#takeNext();
      if (resolve !== undefined && key !== undefined) resolve(key);
    }
  }

  #reportDepth(): void {
    this.#metrics.depth?.(this.#queue.size);
  }

  #secondsSince(ms: number): number {
    return Math.max(0, this.#clock.now() - ms) / 1000;
  }
}
