import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { Timer } from './timer-queue.js';

/** A PingReq we are serving: our own Ping to the target, whose Ack we owe the requester. */
export interface Relay {
  readonly targetKey: string;
  /** The requester's member key when we know it, so our Ack can carry what it needs to hear. */
  readonly requesterKey: string | null;
  readonly requester: UdpEndpoint;
  readonly requesterSeq: bigint;
  /** The requester cannot admit the target yet: answer as the target, with its certificate. */
  readonly introduce: boolean;
  timer: Timer | null;
}

/**
 * PingReq seqs with the top bit set ask for an introduction. The reference never sets it
 * (its seqs count up from small numbers) and its helpers never answer, so the bit costs no
 * compatibility; our own seqs stay below 2^48.
 */
export const INTRODUCTION_SEQ_FLAG = 1n << 63n;

/**
 * The helper side of an indirect probe. The reference's helper pings the target and never
 * tells the requester (spec §7.3), so its indirect probes cannot clear anything; ours answer
 * the requester with an Ack carrying the requester's seq, which is what SWIM intends. Keyed
 * by the seq of our Ping to the target and bounded, so PingReqs cannot make us remember more
 * than `capacity` relays.
 */
export class IndirectRelays {
  readonly capacity: number;
  readonly #bySeq = new Map<bigint, Relay>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#bySeq.size;
  }

  get full(): boolean {
    return this.#bySeq.size >= this.capacity;
  }

  add(seq: bigint, relay: Relay): void {
    this.#bySeq.set(seq, relay);
  }

  /** The relay for an Ack with this seq from this sender, removed; undefined if none matches. */
  take(seq: bigint, senderKey: string): Relay | undefined {
    const relay = this.#bySeq.get(seq);
    if (relay === undefined || relay.targetKey !== senderKey) return undefined;
    this.#bySeq.delete(seq);
    if (relay.timer !== null) relay.timer.cancelled = true;
    return relay;
  }

  expire(seq: bigint): void {
    this.#bySeq.delete(seq);
  }

  clear(): void {
    for (const relay of this.#bySeq.values()) if (relay.timer !== null) relay.timer.cancelled = true;
    this.#bySeq.clear();
  }
}
