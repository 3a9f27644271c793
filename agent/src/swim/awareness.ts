/**
 * Lifeguard's local health multiplier (memberlist's "awareness"): a score in [0, max] that
 * grows when the evidence says *we* are the slow or badly connected one and shrinks with
 * every probe that works. Probe timeouts and the probe interval are scaled by (score + 1), so
 * a struggling node waits longer before accusing others instead of flooding the mesh with
 * false suspicions.
 *
 * The wire protocol has no Nack, so Lifeguard's "missed nack" signal is unavailable; we use
 * the signals that are: a missed direct Ack (the probe needed helpers, came late, or failed),
 * having to refute a suspicion of ourselves, and a suspicion we raised being refuted by its
 * subject. Each prompt direct Ack takes a point off.
 */
export class Awareness {
  readonly max: number;
  #score = 0;

  constructor(max: number) {
    this.max = max;
  }

  get score(): number {
    return this.#score;
  }

  applyDelta(delta: number): void {
    this.#score = Math.min(this.max, Math.max(0, this.#score + delta));
  }

  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
