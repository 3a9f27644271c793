import { ArgumentError, checkBucketParameters, TokenBucket } from '@meshguard/core';

/**
 * Rate limiting for incoming handshake initiations, applied after MAC1 and before any X25519
 * work (spec §11.2): each source gets a small bucket, and one global bucket caps the total so
 * that spoofed sources, each with a fresh bucket, still cannot buy unbounded DH operations.
 *
 * Time is always passed in, in milliseconds from a monotonic clock (e.g. performance.now()),
 * so the limiter is deterministic under test and a wall-clock step cannot refill it.
 */

export const DEFAULT_PER_SOURCE_BURST = 8;
export const DEFAULT_PER_SOURCE_REFILL_MS = 250;
export const DEFAULT_GLOBAL_BURST = 256;
export const DEFAULT_GLOBAL_REFILL_MS = 10;
// Far more than a 64-peer mesh has legitimate sources active within one idle period (2 s with
// the defaults), so under flood only attackers' entries churn; ~100 bytes each plus the key.
export const DEFAULT_MAX_SOURCES = 4096;

export interface SourceRateLimiterOptions {
  readonly perSourceBurst?: number;
  readonly perSourceRefillMs?: number;
  readonly globalBurst?: number;
  readonly globalRefillMs?: number;
  /** Most sources tracked at once; beyond it the least recently seen is forgotten. */
  readonly maxSources?: number;
}

const NONE = -1;

/**
 * Per-source buckets in a bounded table plus one global bucket. Forgetting a source only ever
 * hands it a fresh, full bucket, so:
 *  - a source idle for `burst × interval` has a full bucket anyway and is dropped for free;
 *  - when the table is full the least recently seen source is dropped; that can let an evicted
 *    source exceed its own rate, but never the global one, which is the bound that matters.
 * Memory is therefore fixed by `maxSources` however many addresses a flood spoofs.
 *
 * Entries live in preallocated slots linked in recency order, and buckets are reused across
 * slots, so a steady stream of new sources allocates nothing beyond its Map entries.
 */
export class SourceRateLimiter {
  readonly #global: TokenBucket;
  readonly #perSourceBurst: number;
  readonly #perSourceRefillMs: number;
  readonly #idleMs: number;
  readonly #maxSources: number;

  readonly #slotOf = new Map<string, number>();
  readonly #keys: string[] = [];
  readonly #buckets: TokenBucket[] = [];
  readonly #lastSeen: Float64Array;
  // Doubly linked recency list over slot numbers: head most recent, tail least.
  readonly #newer: Int32Array;
  readonly #older: Int32Array;
  #newest = NONE;
  #oldest = NONE;
  // Slots freed by idle pruning, reused before new ones are created.
  readonly #free: Int32Array;
  #freeCount = 0;

  constructor(options: SourceRateLimiterOptions = {}) {
    this.#perSourceBurst = options.perSourceBurst ?? DEFAULT_PER_SOURCE_BURST;
    this.#perSourceRefillMs = options.perSourceRefillMs ?? DEFAULT_PER_SOURCE_REFILL_MS;
    // Per-source buckets are created lazily; refuse bad parameters now, not on some later packet.
    checkBucketParameters(this.#perSourceBurst, this.#perSourceRefillMs);
    this.#global = new TokenBucket(
      options.globalBurst ?? DEFAULT_GLOBAL_BURST,
      options.globalRefillMs ?? DEFAULT_GLOBAL_REFILL_MS,
    );
    const maxSources = options.maxSources ?? DEFAULT_MAX_SOURCES;
    if (!Number.isSafeInteger(maxSources) || maxSources < 1 || maxSources > 0x7fff_ffff) {
      throw new ArgumentError(`maxSources must be a positive integer, got ${maxSources}`);
    }
    this.#maxSources = maxSources;
    this.#idleMs = this.#perSourceBurst * this.#perSourceRefillMs;
    this.#lastSeen = new Float64Array(maxSources);
    this.#newer = new Int32Array(maxSources);
    this.#older = new Int32Array(maxSources);
    this.#free = new Int32Array(maxSources);
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.#slotOf.size;
  }

  /**
   * Whether to process an initiation from `source` at `nowMs`. A refusal by the source's own
   * bucket leaves the global bucket untouched, so one noisy source cannot drain it for others.
   */
  allow(source: string, nowMs: number): boolean {
    this.#forgetIdle(nowMs);
    let slot = this.#slotOf.get(source);
    if (slot === undefined) {
      slot = this.#admit(source);
    } else {
      this.#unlink(slot);
    }
    this.#linkNewest(slot);
    this.#lastSeen[slot] = nowMs;

    const bucket = this.#buckets[slot]!;
    if (!bucket.take(nowMs)) return false;
    if (this.#global.take(nowMs)) return true;
    bucket.refund();
    return false;
  }

  #admit(source: string): number {
    let slot: number;
    if (this.#freeCount > 0) {
      slot = this.#free[--this.#freeCount]!;
      this.#buckets[slot]!.reset();
    } else if (this.#buckets.length < this.#maxSources) {
      slot = this.#buckets.length;
      this.#buckets.push(new TokenBucket(this.#perSourceBurst, this.#perSourceRefillMs));
    } else {
      slot = this.#oldest;
      this.#slotOf.delete(this.#keys[slot]!);
      this.#unlink(slot);
      this.#buckets[slot]!.reset();
    }
    this.#keys[slot] = source;
    this.#slotOf.set(source, slot);
    return slot;
  }

  // The list is in lastSeen order, so idle sources are all at the old end; each is dropped
  // once, which keeps this amortised O(1) per call.
  #forgetIdle(nowMs: number): void {
    while (this.#oldest !== NONE && nowMs - this.#lastSeen[this.#oldest]! >= this.#idleMs) {
      const slot = this.#oldest;
      this.#slotOf.delete(this.#keys[slot]!);
      this.#unlink(slot);
      this.#free[this.#freeCount++] = slot;
    }
  }

  #unlink(slot: number): void {
    const newer = this.#newer[slot]!;
    const older = this.#older[slot]!;
    if (newer === NONE) this.#newest = older;
    else this.#older[newer] = older;
    if (older === NONE) this.#oldest = newer;
    else this.#newer[older] = newer;
  }

  #linkNewest(slot: number): void {
    this.#newer[slot] = NONE;
    this.#older[slot] = this.#newest;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#newer[this.#newest] = slot;
    this.#newest = slot;
  }
}
