/**
 * Time as the SWIM node sees it. Two readings, because they answer different questions:
 * timers need a clock that never steps (monotonic), while certificate expiry, our starting
 * incarnation and the restart epoch of spec §7.7 are statements about wall-clock time.
 */
export interface SwimClock {
  /** Milliseconds on a monotonic timeline; only differences are meaningful. */
  nowMs(): number;
  /** Unix time in milliseconds. */
  wallMs(): number;
}

export const systemClock: SwimClock = {
  nowMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** A clock tests and the simulator move by hand; wall time is `epochMs` plus the same offset. */
export class ManualClock implements SwimClock {
  #now: number;
  readonly #epochMs: number;

  constructor(startMs = 0, epochMs = 1_750_000_000_000) {
    this.#now = startMs;
    this.#epochMs = epochMs;
  }

  nowMs(): number {
    return this.#now;
  }

  wallMs(): number {
    return this.#epochMs + this.#now;
  }

  set(ms: number): void {
    this.#now = ms;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}
