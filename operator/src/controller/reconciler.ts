import { ArgumentError } from '@meshguard/core';
import { type Clock, ControllerTimeoutError, systemClock } from '@meshguard/core/kube';
import { WorkQueue, type QueueKey, type WorkQueueOptions } from './work-queue.js';

/**
 * What a reconcile asks for next. Nothing (or `{}`): done, until something changes. `requeue`:
 * again after the rate limiter's backoff, as after an error but without counting one.
 * `requeueAfterMs`: again after exactly that long (periodic work such as certificate rotation);
 * it takes precedence over `requeue`, as in controller-runtime.
 */
export interface Result {
  readonly requeue?: boolean;
  readonly requeueAfterMs?: number;
}

/**
 * Level-triggered: given a key, make the world match the object's spec, whatever events led
 * here. `signal` aborts when the controller stops; a reconcile should pass it to its API calls.
 * Throwing counts an error and retries the key with backoff.
 */
export interface Reconciler<K> {
  reconcile(key: K, signal: AbortSignal): Promise<Result | undefined>;
}

export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

/** For controller-runtime's metrics: controller_runtime_reconcile_total{result}, _reconcile_time_seconds, _active_workers. */
export interface ControllerMetrics {
  readonly reconciled?: (outcome: ReconcileOutcome, seconds: number) => void;
  readonly activeWorkers?: (count: number) => void;
}

export interface ControllerOptions<K extends QueueKey> {
  readonly name: string;
  readonly reconciler: Reconciler<K>;
  /** Concurrent reconciles of distinct keys (the queue never hands one key to two workers). */
  readonly workers?: number;
  readonly queue?: WorkQueueOptions<K>;
  /** A reconcile running longer has its signal aborted (and fails, if it honours the signal, as it should). */
  readonly reconcileTimeoutMs?: number;
  readonly clock?: Clock;
  readonly metrics?: ControllerMetrics;
  /** Errors are retried, never fatal; this hook is for logs and Events. */
  readonly onError?: (key: K, err: unknown) => void;
}

export interface ControllerStats {
  readonly reconciles: number;
  readonly errors: number;
  readonly requeues: number;
  readonly activeWorkers: number;
}

/**
 * N async workers over a rate-limited work queue, as controller-runtime's controller: take a
 * key, reconcile it, and decide from the result whether and when it comes back.
 */
export class Controller<K extends QueueKey = string> {
  readonly name: string;
  readonly queue: WorkQueue<K>;
  readonly #reconciler: Reconciler<K>;
  readonly #workers: number;
  readonly #timeoutMs: number | undefined;
  readonly #clock: Clock;
  readonly #metrics: ControllerMetrics;
  readonly #onError: (key: K, err: unknown) => void;
  readonly #abort = new AbortController();
  #running: Promise<void>[] | undefined;
  #stats = { reconciles: 0, errors: 0, requeues: 0, activeWorkers: 0 };

  constructor(options: ControllerOptions<K>) {
    const workers = options.workers ?? 1;
    if (!(Number.isSafeInteger(workers) && workers >= 1)) {
      throw new ArgumentError(`workers must be a positive integer, got ${String(workers)}`);
    }
    if (options.reconcileTimeoutMs !== undefined && !(options.reconcileTimeoutMs > 0)) {
      throw new ArgumentError('reconcile timeout must be positive');
    }
    this.name = options.name;
    this.#reconciler = options.reconciler;
    this.#workers = workers;
    this.#timeoutMs = options.reconcileTimeoutMs;
    this.#clock = options.clock ?? options.queue?.clock ?? systemClock;
    this.#metrics = options.metrics ?? {};
    this.#onError = options.onError ?? (() => undefined);
    this.queue = new WorkQueue<K>({ name: options.name, clock: this.#clock, ...options.queue });
  }

  /** Starts the workers; keys added before are processed as soon as they run. */
  start(): void {
    if (this.#running !== undefined || this.queue.shuttingDown) return;
    this.#running = Array.from({ length: this.#workers }, () => this.#worker());
  }

  /**
   * Stops taking keys and waits for reconciles in progress. Those still running after
   * `drainTimeoutMs` (default: no limit), or at once with `abort` (leadership lost: nothing may
   * be written any more), are aborted through their signal, and awaited. A controller does not
   * start again: make a new one.
   */
  async stop(options: { readonly drainTimeoutMs?: number; readonly abort?: boolean } = {}): Promise<void> {
    const drained = this.queue.shutDownWithDrain();
    if (options.abort === true) this.#abort.abort();
    if (options.drainTimeoutMs !== undefined) {
      let cancel = (): void => undefined;
      const timedOut = new Promise<void>((resolve) => {
        cancel = this.#clock.setTimer(resolve, options.drainTimeoutMs ?? 0);
      });
      await Promise.race([drained, timedOut]);
      cancel();
      this.#abort.abort(new ControllerTimeoutError(`${this.name}: reconcile still running at shutdown`));
    }
    await drained;
    await Promise.all(this.#running ?? []);
    this.#abort.abort();
  }

  get stats(): ControllerStats {
    return { ...this.#stats };
  }

  async #worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.#setActive(1);
      try {
        await this.#process(key);
      } finally {
        this.queue.done(key);
        this.#setActive(-1);
      }
    }
  }

  async #process(key: K): Promise<void> {
    const started = this.#clock.now();
    const seconds = (): number => Math.max(0, this.#clock.now() - started) / 1000;
    this.#stats.reconciles++;
    let result: Result | undefined;
    try {
      result = await this.#reconcileBounded(key);
    } catch (err) {
      this.#stats.errors++;
      this.#metrics.reconciled?.('error', seconds());
      this.#onError(key, err);
      this.queue.addRateLimited(key);
      return;
    }
    if (result?.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
      // The delay is the reconciler's own schedule, not a backoff: the failure history goes.
      this.queue.forget(key);
      this.queue.addAfter(key, result.requeueAfterMs);
      this.#stats.requeues++;
      this.#metrics.reconciled?.('requeue_after', seconds());
    } else if (result?.requeue === true) {
      this.queue.addRateLimited(key);
      this.#stats.requeues++;
      this.#metrics.reconciled?.('requeue', seconds());
    } else {
      this.queue.forget(key);
      this.#metrics.reconciled?.('success', seconds());
    }
  }

  async #reconcileBounded(key: K): Promise<Result | undefined> {
    if (this.#timeoutMs === undefined) return this.#reconciler.reconcile(key, this.#abort.signal);
    const timeout = new AbortController();
    const ms = this.#timeoutMs;
    const cancel = this.#clock.setTimer(() => {
      timeout.abort(new ControllerTimeoutError(`${this.name}: reconcile of ${String(key)} exceeded ${String(ms)} ms`));
    }, ms);
    try {
      return await this.#reconciler.reconcile(key, AbortSignal.any([this.#abort.signal, timeout.signal]));
    } finally {
      cancel();
    }
  }

  #setActive(delta: number): void {
    this.#stats.activeWorkers += delta;
    this.#metrics.activeWorkers?.(this.#stats.activeWorkers);
  }
}
