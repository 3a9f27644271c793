import { ArgumentError } from '@meshguard/core';

/**
 * A continuous token bucket: `ratePerSecond` tokens a second up to `burst`. Used for the
 * control-plane send limit (spec §7.1: 500 packets/s, burst 100) and for the budgets that
 * bound CPU spent on signatures and on membership growth.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number | null = null;

  constructor(ratePerSecond: number, burst: number) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
      throw new ArgumentError(`token rate must be a positive number, got ${ratePerSecond}`);
    }
    if (!Number.isInteger(burst) || burst < 1) throw new ArgumentError(`token burst must be ≥ 1, got ${burst}`);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
  }

  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /** Takes one token if more than `reserve` remain, so background traffic can leave room for probes. */
  take(nowMs: number, reserve = 0): boolean {
    this.#refill(nowMs);
    if (this.#tokens < 1 + reserve) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(nowMs: number): void {
    if (this.#at !== null && nowMs > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((nowMs - this.#at) * this.ratePerSecond) / 1000);
    }
    if (this.#at === null || nowMs > this.#at) this.#at = nowMs;
  }
}
