import { ArgumentError } from '@meshguard/core';

/**
 * How long a failed item waits before its retry, as client-go's workqueue.TypedRateLimiter.
 * `when` is called once per retry and counts it.
 */
export interface RateLimiter<K> {
  /** The delay before `key` may be retried, in ms; `nowMs` from the queue's clock. */
  when(key: K, nowMs: number): number;
  /** The item succeeded: its failure history is dropped. */
  forget(key: K): void;
  /** Retries counted since the last forget. */
  numRequeues(key: K): number;
}

/** client-go's defaults for controllers (DefaultTypedControllerRateLimiter). */
export const DEFAULT_BASE_DELAY_MS = 5;
export const DEFAULT_MAX_DELAY_MS = 1_000_000;
export const DEFAULT_QPS = 10;
export const DEFAULT_BURST = 100;

/** baseDelay · 2^failures, capped at maxDelay: 5 ms, 10 ms, 20 ms, … 1000 s with the defaults. */
export class ExponentialFailureRateLimiter<K> implements RateLimiter<K> {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly #failures = new Map<K, number>();

  constructor(baseDelayMs = DEFAULT_BASE_DELAY_MS, maxDelayMs = DEFAULT_MAX_DELAY_MS) {
    if (!(baseDelayMs > 0 && Number.isFinite(baseDelayMs))) {
      throw new ArgumentError(`base delay must be a positive number of ms, got ${String(baseDelayMs)}`);
    }
    if (!(maxDelayMs >= baseDelayMs && Number.isFinite(maxDelayMs))) {
      throw new ArgumentError(`max delay must be at least the base delay, got ${String(maxDelayMs)}`);
    }
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
  }

  when(key: K): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    // 2^failures overflows to Infinity long after it has passed any cap; min() handles both.
    return Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
  }

  forget(key: K): void {
    this.#failures.delete(key);
  }

  numRequeues(key: K): number {
    return this.#failures.get(key) ?? 0;
  }
}

/**
 * An overall rate over all items (`qps`, bursting to `burst`), with the reservation semantics of
 * golang.org/x/time/rate that client-go's BucketRateLimiter relies on: a retry beyond the burst
 * is not refused but booked for a later slot, so 500 items failing at once come back spread at
 * `qps` rather than all together at the next refill.
 *
 * Not core's TokenBucket on purpose: that one answers "may I, now?" and cannot hand out future
 * slots, which is what a delay-returning limiter needs.
 */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  readonly qps: number;
  readonly burst: number;
  // May go negative: that many slots are already promised to earlier callers.
  #tokens: number;
  #updatedAt: number | undefined;

  constructor(qps = DEFAULT_QPS, burst = DEFAULT_BURST) {
    if (!(qps > 0 && Number.isFinite(qps))) throw new ArgumentError(`qps must be positive, got ${String(qps)}`);
    if (!(Number.isSafeInteger(burst) && burst >= 1)) {
      throw new ArgumentError(`burst must be a positive integer, got ${String(burst)}`);
    }
    this.qps = qps;
    this.burst = burst;
    this.#tokens = burst;
  }

  when(_key: K, nowMs: number): number {
    if (this.#updatedAt !== undefined && nowMs > this.#updatedAt) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#updatedAt) * this.qps) / 1000);
    }
    // A clock that steps back grants nothing; the step is not banked as elapsed time later either.
    this.#updatedAt = nowMs;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.qps;
  }

  forget(): void {
    // The bucket is shared by all items: one item's success returns nothing to it.
  }

  numRequeues(): number {
    return 0;
  }
}

/** The longest delay any of `limiters` asks for; each of them counts every call. */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  readonly #limiters: readonly RateLimiter<K>[];

  constructor(...limiters: RateLimiter<K>[]) {
    if (limiters.length === 0) throw new ArgumentError('MaxOfRateLimiter needs at least one limiter');
    this.#limiters = limiters;
  }

  when(key: K, nowMs: number): number {
    let delay = 0;
    for (const limiter of this.#limiters) delay = Math.max(delay, limiter.when(key, nowMs));
    return delay;
  }

  forget(key: K): void {
    for (const limiter of this.#limiters) limiter.forget(key);
  }

  numRequeues(key: K): number {
    let n = 0;
    for (const limiter of this.#limiters) n = Math.max(n, limiter.numRequeues(key));
    return n;
  }
}

/** client-go's controller default: per-item 5 ms → 1000 s exponential, overall 10 qps with a burst of 100. */
export function defaultControllerRateLimiter<K>(): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(new ExponentialFailureRateLimiter<K>(), new BucketRateLimiter<K>());
}
