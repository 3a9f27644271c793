import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { Member } from './member.js';
import type { Timer } from './timer-queue.js';

/**
 * `periodic`: the one probe per protocol period. `confirm`: our own check of a third party's
 * suspect/dead/leave claim — the only way such a claim can change our view. `recheck`: a
 * second look at a member we suspect while nobody confirms the suspicion (see SwimNode).
 */
export type ProbeKind = 'periodic' | 'confirm' | 'recheck';

export interface Probe {
  readonly seq: bigint;
  readonly kind: ProbeKind;
  readonly member: Member;
  readonly sentTo: UdpEndpoint;
  readonly startedAt: number;
  phase: 'direct' | 'indirect';
  /** Helpers we sent a PingReq for this seq; only their Acks count as indirect success. */
  readonly helpers: Set<string>;
  timer: Timer | null;
}

/**
 * Probes awaiting an Ack, by seq; at most one periodic probe and a bounded number of others
 * (confirmations and rechecks share that bound).
 */
export class ProbeTracker {
  readonly #bySeq = new Map<bigint, Probe>();
  readonly #byMember = new Map<string, Probe>();
  #periodic: Probe | null = null;
  #confirmations = 0;

  get size(): number {
    return this.#bySeq.size;
  }

  get periodicInFlight(): boolean {
    return this.#periodic !== null;
  }

  get confirmationsInFlight(): number {
    return this.#confirmations;
  }

  get(seq: bigint): Probe | undefined {
    return this.#bySeq.get(seq);
  }

  probing(memberKey: string): boolean {
    return this.#byMember.has(memberKey);
  }

  add(probe: Probe): void {
    this.#bySeq.set(probe.seq, probe);
    this.#byMember.set(probe.member.key, probe);
    if (probe.kind === 'periodic') this.#periodic = probe;
    else this.#confirmations++;
  }

  /** Removes and returns the probe if it was still pending (an Ack and a timeout may race). */
  settle(seq: bigint): Probe | undefined {
    const probe = this.#bySeq.get(seq);
    if (probe === undefined) return undefined;
    this.#bySeq.delete(seq);
    if (this.#byMember.get(probe.member.key) === probe) this.#byMember.delete(probe.member.key);
    if (probe.kind === 'periodic') this.#periodic = null;
    else this.#confirmations--;
    if (probe.timer !== null) probe.timer.cancelled = true;
    return probe;
  }

  /** Drops whatever probe is pending for this member (it died or left meanwhile). */
  settleMember(memberKey: string): void {
    const probe = this.#byMember.get(memberKey);
    if (probe !== undefined) this.settle(probe.seq);
  }

  clear(): void {
    for (const probe of this.#bySeq.values()) if (probe.timer !== null) probe.timer.cancelled = true;
    this.#bySeq.clear();
    this.#byMember.clear();
    this.#periodic = null;
    this.#confirmations = 0;
  }
}
