import { ArgumentError } from '@meshguard/core';
import { randomUnit, type RandomSource } from '../swim/random-source.js';

export interface LinkProfile {
  /** One-way delay in ms: each link gets a fixed base in [min, max], chosen from the seed. */
  readonly latencyMinMs: number;
  readonly latencyMaxMs: number;
  /** Extra per-packet delay, uniform in [0, jitter]. Reordering follows from it, as on a real path. */
  readonly jitterMs: number;
  /** Probability a packet is lost. */
  readonly loss: number;
}

export const DEFAULT_LINK: LinkProfile = { latencyMinMs: 5, latencyMaxMs: 40, jitterMs: 5, loss: 0 };

/**
 * Latency, jitter, loss and partitions between simulated hosts. Partitions are groups: hosts
 * in different groups cannot reach each other; per-host loss models a bad uplink.
 */
export class NetworkModel {
  #link: LinkProfile;
  readonly #random: RandomSource;
  readonly #seed: number;
  readonly #group = new Map<number, number>();
  readonly #hostLoss = new Map<number, number>();

  constructor(link: LinkProfile, random: RandomSource, seed: number) {
    checkLink(link);
    this.#link = link;
    this.#random = random;
    this.#seed = seed >>> 0;
  }

  get link(): LinkProfile {
    return this.#link;
  }

  setLink(link: LinkProfile): void {
    checkLink(link);
    this.#link = link;
  }

  /** Splits the hosts into groups that cannot talk across; hosts not listed form group 0. */
  partition(groups: readonly (readonly number[])[]): void {
    this.#group.clear();
    groups.forEach((hosts, i) => {
      for (const h of hosts) this.#group.set(h, i + 1);
    });
  }

  heal(): void {
    this.#group.clear();
  }

  setHostLoss(host: number, loss: number): void {
    if (loss <= 0) this.#hostLoss.delete(host);
    else this.#hostLoss.set(host, loss);
  }

  /** Delay in ms for one packet, or null when it is lost or cannot cross a partition. */
  delivery(from: number, to: number): number | null {
    if ((this.#group.get(from) ?? 0) !== (this.#group.get(to) ?? 0)) return null;
    const loss =
      1 - (1 - this.#link.loss) * (1 - (this.#hostLoss.get(from) ?? 0)) * (1 - (this.#hostLoss.get(to) ?? 0));
    if (loss > 0 && randomUnit(this.#random) < loss) return null;
    return this.#baseLatency(from, to) + randomUnit(this.#random) * this.#link.jitterMs;
  }

  /** A fixed per-link base delay, symmetric, from a hash of the pair and the seed. */
  #baseLatency(a: number, b: number): number {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    let h = (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca77) ^ this.#seed) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    const span = this.#link.latencyMaxMs - this.#link.latencyMinMs;
    return this.#link.latencyMinMs + (h / 0x1_0000_0000) * span;
  }
}

function checkLink(link: LinkProfile): void {
  if (!(link.loss >= 0 && link.loss <= 1)) throw new ArgumentError(`loss must be in [0, 1], got ${link.loss}`);
  if (!(link.latencyMinMs >= 0 && link.latencyMaxMs >= link.latencyMinMs && link.jitterMs >= 0)) {
    throw new ArgumentError('latency bounds must satisfy 0 ≤ min ≤ max and jitter ≥ 0');
  }
}
