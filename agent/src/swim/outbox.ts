import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { TokenBucket } from '@meshguard/core';

/** Why a datagram was sent: for the limiter's priorities and for accounting. */
export const SEND_PURPOSES = [
  'probe',
  'ack',
  'ping-req',
  'relay',
  'gossip',
  'greeting',
  'push',
  'reconnect',
  'seed',
  'quarantine',
  'flood',
  'leave',
] as const;

export type SendPurpose = (typeof SEND_PURPOSES)[number];

export interface Tally {
  readonly packets: number;
  readonly bytes: number;
}

/** Traffic that waits when tokens run low, so probes and their answers keep flowing. */
const BACKGROUND: ReadonlySet<SendPurpose> = new Set([
  'gossip',
  'greeting',
  'push',
  'reconnect',
  'quarantine',
  'flood',
]);

/**
 * Every datagram the node sends passes here: the control-plane limiter of spec §7.1 (a token
 * bucket, excess dropped rather than queued — a late probe is worse than none), with a
 * reserve that background traffic may not touch, and per-purpose accounting.
 */
export class Outbox {
  readonly #limiter: TokenBucket;
  readonly #reserve: number;
  readonly #send: (bytes: Uint8Array, to: UdpEndpoint) => void;
  readonly #tally = new Map<SendPurpose, { packets: number; bytes: number }>(
    SEND_PURPOSES.map((p) => [p, { packets: 0, bytes: 0 }]),
  );
  #dropped = 0;

  constructor(
    send: (bytes: Uint8Array, to: UdpEndpoint) => void,
    packetsPerSecond: number,
    burst: number,
    backgroundReserve: number,
  ) {
    this.#send = send;
    this.#limiter = TokenBucket.perSecond(packetsPerSecond, burst);
    this.#reserve = backgroundReserve;
  }

  /** False when the limiter refused (the datagram was not sent). */
  transmit(bytes: Uint8Array, to: UdpEndpoint, purpose: SendPurpose, nowMs: number): boolean {
    if (!this.#limiter.take(nowMs, BACKGROUND.has(purpose) ? this.#reserve : 0)) {
      this.#dropped++;
      return false;
    }
    const tally = this.#tally.get(purpose)!;
    tally.packets++;
    tally.bytes += bytes.length;
    this.#send(bytes, to);
    return true;
  }

  get dropped(): number {
    return this.#dropped;
  }

  totals(): Tally {
    let packets = 0;
    let bytes = 0;
    for (const t of this.#tally.values()) {
      packets += t.packets;
      bytes += t.bytes;
    }
    return { packets, bytes };
  }

  byPurpose(): Record<SendPurpose, Tally> {
    return Object.fromEntries([...this.#tally].map(([p, t]) => [p, { ...t }])) as Record<SendPurpose, Tally>;
  }
}
