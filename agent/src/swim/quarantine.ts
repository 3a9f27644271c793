import type { UdpEndpoint } from '../wireguard/endpoint.js';

export interface Candidate {
  readonly key: string;
  readonly publicKey: Uint8Array;
  /** Its gossiped address; null when we only know it exists (an introduction we asked for). */
  endpoint: UdpEndpoint | null;
  readonly firstSeenAt: number;
  probes: number;
  lastProbeAt: number;
  /** The member that told us about it: it knows the candidate, and can introduce it. */
  introducerKey: string | null;
  /** The seq of our latest introduction request (PingReqs to helpers), if any. */
  introductionSeq: bigint | null;
  /** The helpers that request went to: only their answers count. */
  askedHelpers: UdpEndpoint[];
}

export interface QuarantineLimits {
  readonly capacity: number;
  readonly ttlMs: number;
  readonly maxProbes: number;
  readonly probeGapMs: number;
}

/**
 * Gossip subjects we cannot admit yet (spec §7.9): a v1/v2-certificate peer can only prove
 * itself by presenting its certificate, which gossip cannot carry, so we ping it directly and
 * let its Ack do the talking. Bounded in size (oldest replaced), in time, and in probes per
 * candidate, so a peer gossiping made-up subjects buys at most a few pings per name.
 */
export class Quarantine {
  readonly limits: QuarantineLimits;
  readonly #candidates = new Map<string, Candidate>();

  constructor(limits: QuarantineLimits) {
    this.limits = limits;
  }

  get size(): number {
    return this.#candidates.size;
  }

  has(key: string): boolean {
    return this.#candidates.has(key);
  }

  /** Records a sighting; an existing candidate keeps its probe budget and first-seen time. */
  offer(key: string, publicKey: Uint8Array, endpoint: UdpEndpoint, now: number, introducerKey: string | null): void {
    const existing = this.#candidates.get(key);
    if (existing !== undefined) {
      existing.endpoint = endpoint;
      existing.introducerKey ??= introducerKey;
      return;
    }
    this.#insert({
      key,
      publicKey,
      endpoint,
      firstSeenAt: now,
      probes: 0,
      lastProbeAt: -Infinity,
      introducerKey,
      introductionSeq: null,
      askedHelpers: [],
    });
  }

  /**
   * A key we have no address for but want introduced (someone we do not know is sending us
   * tunnel traffic through `helper`): no direct probes, one introduction request, which the
   * caller sends with `seq`. False if already a candidate.
   */
  wantIntroduction(key: string, publicKey: Uint8Array, helper: UdpEndpoint, seq: bigint, now: number): boolean {
    if (this.#candidates.has(key)) return false;
    this.#insert({
      key,
      publicKey,
      endpoint: null,
      firstSeenAt: now,
      // Counted as exhausted, so `due` never probes it and drops it one gap after now.
      probes: this.limits.maxProbes,
      lastProbeAt: now,
      introducerKey: null,
      introductionSeq: seq,
      askedHelpers: [helper],
    });
    return true;
  }

  /** Adds a candidate, replacing the oldest when full. */
  #insert(candidate: Candidate): void {
    if (this.#candidates.size >= this.limits.capacity) {
      const oldest = this.#candidates.keys().next().value;
      if (oldest !== undefined) this.#candidates.delete(oldest);
    }
    this.#candidates.set(candidate.key, candidate);
  }

  /** The candidate an Ack answers as an introduction: its seq, its sender, from a helper we asked. */
  introduced(seq: bigint, key: string, from: UdpEndpoint): Candidate | null {
    const c = this.#candidates.get(key);
    if (c?.introductionSeq !== seq) return null;
    return c.askedHelpers.some((h) => h.address === from.address && h.port === from.port) ? c : null;
  }

  remove(key: string): void {
    this.#candidates.delete(key);
  }

  /** The first candidate due a probe, after dropping expired and exhausted ones; null if none. */
  due(now: number): Candidate | null {
    for (const c of this.#candidates.values()) {
      if (now - c.firstSeenAt > this.limits.ttlMs || c.probes >= this.limits.maxProbes) {
        if (now - c.lastProbeAt >= this.limits.probeGapMs || now - c.firstSeenAt > this.limits.ttlMs) {
          this.#candidates.delete(c.key);
        }
        continue;
      }
      if (now - c.lastProbeAt >= this.limits.probeGapMs) return c;
    }
    return null;
  }

  /** When `due` might next return a candidate (Infinity if empty). */
  nextDueAt(): number {
    let at = Infinity;
    for (const c of this.#candidates.values()) {
      // Exhausted candidates are due too: `due` is where they get dropped.
      at = Math.min(at, Math.max(c.lastProbeAt + this.limits.probeGapMs, c.firstSeenAt));
    }
    return at;
  }

  clear(): void {
    this.#candidates.clear();
  }
}
