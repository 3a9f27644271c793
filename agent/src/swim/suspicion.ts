/**
 * A suspicion timer in the Lifeguard style (memberlist's suspicion.go): it starts at `maxMs`
 * and shrinks toward `minMs` as independent confirmations arrive, reaching the minimum after
 * `k` of them, on a log curve so the first confirmations count most:
 *
 *   timeout(n) = max(min, max − (max − min) · ln(n + 1) / ln(k + 1))
 *
 * The wire's gossip entries name no originator, so a "confirmation" is a distinct admitted
 * sender relaying a suspicion; that can over-count one accuser relayed by several peers,
 * which only ever shortens the wait to `minMs` — never below, and never without our own
 * failed probe, because only local evidence starts a suspicion here.
 */
export class Suspicion {
  readonly incarnation: bigint;
  readonly startedAt: number;
  readonly k: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly #confirmers = new Set<string>();

  constructor(incarnation: bigint, startedAt: number, k: number, minMs: number, maxMs: number) {
    this.incarnation = incarnation;
    this.startedAt = startedAt;
    this.k = k;
    this.minMs = minMs;
    this.maxMs = Math.max(minMs, maxMs);
  }

  get confirmations(): number {
    return this.#confirmers.size;
  }

  /** When the subject is declared dead unless refuted first. */
  get deadline(): number {
    return this.startedAt + suspicionTimeout(this.#confirmers.size, this.k, this.minMs, this.maxMs);
  }

  /** True when the confirmation was new and moved the deadline. */
  confirm(from: string): boolean {
    if (this.#confirmers.size >= this.k || this.#confirmers.has(from)) return false;
    this.#confirmers.add(from);
    return true;
  }
}

export function suspicionTimeout(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(k + 1);
  return Math.max(minMs, Math.floor(maxMs - fraction * (maxMs - minMs)));
}

/**
 * memberlist's scale: `mult · max(1, log10(n)) · interval` — suspicion has to outlast the
 * time a refutation needs to spread, which grows with the log of the mesh size.
 */
export function suspicionMinMs(mult: number, members: number, probeIntervalMs: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, members)));
  return Math.floor(mult * scale * probeIntervalMs);
}

/** Confirmations wanted: `mult − 2`, or none in a mesh too small to supply them. */
export function suspicionConfirmationsWanted(mult: number, members: number): number {
  const k = mult - 2;
  return members - 2 < k ? 0 : Math.max(0, k);
}
