import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { ArgumentError } from '@meshguard/core';

/**
 * Liveness of the event loop. A loop blocked for good is caught by the probe's own timeout (the
 * server cannot answer); what this catches is a loop that keeps stalling for seconds at a time
 * (a synchronous crypto loop, a huge JSON parse), which still answers probes between stalls but
 * renews no lease and serves no watch on time.
 */
export class EventLoopMonitor {
  readonly maxDelayMs: number;
  readonly #histogram: ELDHistogram;
  readonly #timer: NodeJS.Timeout;
  // Worst delay of the previous window, so a stall is still reported just after a reset.
  #previousMaxMs = 0;

  constructor(options: { readonly maxDelayMs?: number; readonly windowMs?: number } = {}) {
    this.maxDelayMs = options.maxDelayMs ?? 5_000;
    const windowMs = options.windowMs ?? 30_000;
    if (!(this.maxDelayMs > 0) || !(windowMs > 0)) throw new ArgumentError('event loop limits must be positive');
    this.#histogram = monitorEventLoopDelay({ resolution: 20 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#previousMaxMs = this.#currentMaxMs();
      this.#histogram.reset();
    }, windowMs);
    this.#timer.unref();
  }

  /** The worst delay seen over the last one to two windows, in ms. */
  recentMaxDelayMs(): number {
    return Math.max(this.#previousMaxMs, this.#currentMaxMs());
  }

  /** undefined when healthy, else why not: the shape of a HealthCheck. */
  check(): string | undefined {
    const delay = this.recentMaxDelayMs();
    return delay > this.maxDelayMs
      ? `event loop stalled for ${delay.toFixed(0)} ms (limit ${String(this.maxDelayMs)} ms)`
      : undefined;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #currentMaxMs(): number {
    // The histogram starts at its maximum representable value before the first sample.
    const count = this.#histogram.count;
    return count === 0 ? 0 : this.#histogram.max / 1e6;
  }
}
