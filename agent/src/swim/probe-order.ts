import { randomBelow, shuffleInPlace, type RandomSource } from './random-source.js';

/** Anything kept in a ProbeOrder remembers its own position, so removal needs no index map. */
export interface Ordered {
  probeSlot: number;
}

/**
 * memberlist's probe schedule: walk a list of members in order and reshuffle it at the end
 * of every round, so each member is probed once per round (a bound on detection time that a
 * random pick per period does not give — spec §7.3's time-seeded PRNG can starve a member)
 * while the order stays unpredictable. Newcomers go in at a random position rather than at
 * the end, which would put every join at the back of the round.
 */
export class ProbeOrder<T extends Ordered> {
  readonly #random: RandomSource;
  readonly #items: T[] = [];
  #cursor = 0;

  constructor(random: RandomSource) {
    this.#random = random;
  }

  get size(): number {
    return this.#items.length;
  }

  add(item: T): void {
    if (item.probeSlot >= 0 && this.#items[item.probeSlot] === item) return;
    this.#items.push(item);
    item.probeSlot = this.#items.length - 1;
    this.#swap(randomBelow(this.#random, this.#items.length), item.probeSlot);
  }

  remove(item: T): void {
    const at = item.probeSlot;
    if (at < 0 || this.#items[at] !== item) return;
    this.#swap(at, this.#items.length - 1);
    this.#items.pop();
    item.probeSlot = -1;
    // The item swapped into `at` may now sit behind the cursor and miss this round; it is
    // probed next round, which keeps removal O(1).
  }

  /** The next item in the round that `eligible` accepts, or null when none does. */
  next(eligible: (item: T) => boolean): T | null {
    const n = this.#items.length;
    for (let tried = 0; tried <= n; tried++) {
      if (this.#cursor >= this.#items.length) {
        this.#cursor = 0;
        shuffleInPlace(this.#random, this.#items);
        this.#items.forEach((item, i) => (item.probeSlot = i));
        if (this.#items.length === 0) return null;
      }
      const item = this.#items[this.#cursor++]!;
      if (eligible(item)) return item;
    }
    return null;
  }

  /** All items, in no particular order (for sampling helpers and gossip targets). */
  items(): readonly T[] {
    return this.#items;
  }

  #swap(i: number, j: number): void {
    if (i === j) return;
    const a = this.#items[i]!;
    const b = this.#items[j]!;
    this.#items[i] = b;
    this.#items[j] = a;
    b.probeSlot = i;
    a.probeSlot = j;
  }
}
