import { ArgumentError } from '../errors.js';

/** Starts full; one token back every `refillIntervalMs`, never more than `capacity`. */
export class TokenBucket {
  readonly capacity: number;
  readonly refillIntervalMs: number;
  #tokens: number;
  // -Infinity: the first refill finds the bucket full whatever time it is first used at.
  #refilledAt = -Infinity;

  constructor(capacity: number, refillIntervalMs: number) {
    checkBucketParameters(capacity, refillIntervalMs);
    this.capacity = capacity;
    this.refillIntervalMs = refillIntervalMs;
    this.#tokens = capacity;
  }

  /**
   * A bucket refilled at `ratePerSecond` (a token every 1000/rate ms) holding at most `burst`:
   * the shape of the control-plane send limit (spec §7.1: 500 packets/s, burst 100).
   */
  static perSecond(ratePerSecond: number, burst: number): TokenBucket {
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond))) {
      throw new ArgumentError(`token rate must be a positive number per second, got ${ratePerSecond}`);
    }
    return new TokenBucket(burst, 1000 / ratePerSecond);
  }

  /**
   * Takes one token if more than `reserve` remain. A reserve lets low-priority traffic stop
   * short of an empty bucket, so the tokens left over still serve what must not wait.
   */
  take(nowMs: number, reserve = 0): boolean {
    this.#refill(nowMs);
    if (this.#tokens < 1 + reserve) return false;
    this.#tokens--;
    return true;
  }

  /** Tokens that `take` could hand out at `nowMs`. */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** Returns a token just taken, when a later check refused the request it was taken for. */
  refund(): void {
    if (this.#tokens < this.capacity) this.#tokens++;
  }

  /** Back to full, as if newly constructed; lets a pool reuse buckets. */
  reset(): void {
    this.#tokens = this.capacity;
    this.#refilledAt = -Infinity;
  }

  #refill(nowMs: number): void {
    if (this.#tokens >= this.capacity || nowMs < this.#refilledAt) {
      // A full bucket does not bank time; and if the clock steps back, restart the interval
      // rather than let the step count as elapsed time later.
      this.#refilledAt = nowMs;
      return;
    }
    const intervals = Math.floor((nowMs - this.#refilledAt) / this.refillIntervalMs);
    if (intervals < 1) return;
    if (this.#tokens + intervals >= this.capacity) {
      this.#tokens = this.capacity;
      this.#refilledAt = nowMs;
    } else {
      this.#tokens += intervals;
      // Advance by whole intervals only, so the partial interval already waited is kept.
      this.#refilledAt += intervals * this.refillIntervalMs;
    }
  }
}

/** Throws ArgumentError for parameters no bucket could have; lets lazy users of buckets refuse them early. */
export function checkBucketParameters(capacity: number, refillIntervalMs: number): void {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new ArgumentError(`token bucket capacity must be a positive integer, got ${capacity}`);
  }
  if (!(refillIntervalMs > 0 && Number.isFinite(refillIntervalMs))) {
    throw new ArgumentError(`token bucket refill interval must be a positive number of ms, got ${refillIntervalMs}`);
  }
}
