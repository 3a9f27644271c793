import { randomBytes } from 'node:crypto';
import { ArgumentError } from '@meshguard/core';

/**
 * Where the SWIM node gets its randomness (probe order, helpers, gossip targets, jitter).
 * Injected so the simulator and tests replay a run exactly from a seed; the daemon uses
 * `CryptoRandom` so a peer cannot predict whom we probe next.
 */
export interface RandomSource {
  /** Uniform in [0, 2^32). */
  nextUint32(): number;
}

/** Uniform in [0, n); n must be a positive integer below 2^32. */
export function randomBelow(random: RandomSource, n: number): number {
  if (!Number.isInteger(n) || n <= 0 || n > 0x1_0000_0000) throw new ArgumentError(`random bound ${n} out of range`);
  // Rejection sampling: a plain modulo would favour small values whenever n does not divide 2^32.
  const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
  for (;;) {
    const x = random.nextUint32();
    if (x < limit) return x % n;
  }
}

/** Uniform in [0, 1). */
export function randomUnit(random: RandomSource): number {
  return random.nextUint32() / 0x1_0000_0000;
}

/** Fisher–Yates, in place. */
export function shuffleInPlace(random: RandomSource, items: unknown[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomBelow(random, i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}

/**
 * Up to `count` distinct items chosen uniformly from `items` for which `accept` holds, without
 * copying the array: a partial Fisher–Yates over indices would need O(n) memory per call,
 * and the candidates (helpers, gossip targets) are few, so rejection of repeats is cheaper.
 */
export function sampleDistinct<T>(
  random: RandomSource,
  items: readonly T[],
  count: number,
  accept: (item: T) => boolean,
): T[] {
  const chosen: T[] = [];
  if (items.length === 0 || count <= 0) return chosen;
  const seen = new Set<number>();
  // Bounded attempts: when few items qualify, fall back to a linear scan from a random start.
  const attempts = Math.min(items.length, count * 4 + 8);
  for (let i = 0; i < attempts && chosen.length < count; i++) {
    const index = randomBelow(random, items.length);
    if (seen.has(index)) continue;
    seen.add(index);
    const item = items[index]!;
    if (accept(item)) chosen.push(item);
  }
  if (chosen.length < count) {
    const start = randomBelow(random, items.length);
    for (let k = 0; k < items.length && chosen.length < count; k++) {
      const index = (start + k) % items.length;
      if (seen.has(index)) continue;
      const item = items[index]!;
      if (accept(item)) chosen.push(item);
    }
  }
  return chosen;
}

/**
 * sfc32 seeded through splitmix32: tiny state, passes PractRand far beyond what a simulation
 * draws, and (unlike Math.random) is the same on every Node version.
 */
export class SeededRandom implements RandomSource {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** An independent stream, e.g. one per simulated node, derived deterministically. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32() ^ Math.imul(this.nextUint32(), 0x27d4eb2d));
  }
}

/** The daemon's source: OpenSSL's CSPRNG, drawn in blocks to keep the per-call cost low. */
export class CryptoRandom implements RandomSource {
  #pool = new Uint32Array(0);
  #next = 0;

  nextUint32(): number {
    if (this.#next >= this.#pool.length) {
      const bytes = randomBytes(4096);
      this.#pool = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      this.#next = 0;
    }
    return this.#pool[this.#next++]!;
  }
}
