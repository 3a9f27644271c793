import { bytesEqual, DecodeError, toHex } from '@meshguard/core';
import { sameUdpEndpoint } from '../swim/udp-endpoint.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { SourceRateLimiter } from '../wireguard/rate-limiter.js';
import { decodeRelayFrame } from './relay-codec.js';

/** A member as the relay sees it: where it speaks from, and whether it is alive and admitted. */
export interface RelayMember {
  readonly endpoint: UdpEndpoint | null;
  readonly live: boolean;
}

export interface RelayServiceDeps {
  readonly self: Uint8Array;
  member(publicKey: Uint8Array): RelayMember | null;
  /** Whether a live member speaks from this address (a relay must be one). */
  isLiveMemberAt(from: UdpEndpoint): boolean;
  /** Forward the frame, byte for byte, to the target. */
  forward(frame: Uint8Array, to: UdpEndpoint): void;
  /**
   * A frame for us from a key we do not know, through a live member: the sender knows us but
   * we missed the news of it (rumours can miss a NATed node); ask the relay to introduce it.
   */
  unknownSender(sender: Uint8Array, relay: UdpEndpoint): void;
  /** A frame for us: its WireGuard payload, the claimed sender, and the relay it came through. */
  deliver(payload: Uint8Array, sender: Uint8Array, relay: UdpEndpoint): void;
}

export interface RelayLimits {
  /** Per sender identity. */
  readonly framesPerSecond: number;
  readonly burst: number;
  /** All relaying together: what this node lends the mesh of its uplink. */
  readonly totalFramesPerSecond: number;
  /** Distinct sender→target pairs this node relays for at once; a new pair beyond it is refused. */
  readonly capacity: number;
  /** A pair with no frame for this long frees its capacity slot. */
  readonly pairIdleMs: number;
}

/**
 * The reference allows 50 frames/s per sender (spec §9.2): about 0.5 Mbit/s of full-size
 * packets, which makes a relayed tunnel unusable for anything but keepalives. It keys that
 * limit on a claimed identity; ours is keyed on an identity proven by its source address, so
 * it can afford to be a real budget: 4000 frames/s (~45 Mbit/s at 1.4 kB) per sender, 16 000
 * for all senders together.
 */
export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  framesPerSecond: 4000,
  burst: 1000,
  totalFramesPerSecond: 16_000,
  capacity: 32,
  pairIdleMs: 60_000,
};

/** Why a relay frame was dropped: a fixed set, so metrics can label by it. */
export const RELAY_DROP_REASONS = [
  'malformed',
  'sender not a live member',
  'our own frame',
  'relay not a live member',
  'rate limited',
  'sender not at its known address',
  'target not a live member',
  'relay at capacity',
  /** Outgoing: a packet for a relayed peer whose route is gone (the peer was just removed). */
  'no relay route',
] as const;

export type RelayDropReason = (typeof RELAY_DROP_REASONS)[number];

export interface RelayStats {
  framesForwarded: number;
  bytesForwarded: number;
  framesDelivered: number;
  /** Only the reasons that happened (as `status` shows them). */
  readonly dropped: Partial<Record<RelayDropReason, number>>;
}

/**
 * Both ends of the relay (spec §9): forwarding frames between two other members, and taking
 * in frames addressed to us. The reference checks only that the *claimed* sender is a member
 * and keys its rate limit on that claim (spec §16); here the frame must also arrive from the
 * address that member is known at, so nobody can spend another member's budget or relay as
 * it, and the relay serves a bounded number of pairs. Frames carry only WireGuard messages
 * (the codec refuses anything else) and are never decrypted here.
 */
export class RelayService {
  readonly #deps: RelayServiceDeps;
  readonly #limits: RelayLimits;
  readonly #limiter: SourceRateLimiter;
  readonly #pairs = new Map<string, number>(); // "sender>target" → last frame (ms)
  readonly stats: RelayStats = { framesForwarded: 0, bytesForwarded: 0, framesDelivered: 0, dropped: {} };

  constructor(deps: RelayServiceDeps, limits: Partial<RelayLimits> = {}) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_RELAY_LIMITS, ...limits };
    this.#limiter = new SourceRateLimiter({
      perSourceBurst: this.#limits.burst,
      perSourceRefillMs: 1000 / this.#limits.framesPerSecond,
      globalBurst: this.#limits.burst * 4,
      globalRefillMs: 1000 / this.#limits.totalFramesPerSecond,
      maxSources: 4 * this.#limits.capacity,
    });
  }

  /** Pairs currently relayed (for status and metrics). */
  get activePairs(): number {
    return this.#pairs.size;
  }

  handleFrame(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    let frame;
    try {
      frame = decodeRelayFrame(bytes);
    } catch (err) {
      if (err instanceof DecodeError) return this.#drop('malformed');
      throw err;
    }
    const sender = this.#deps.member(frame.senderPublicKey);
    if (sender === null || !sender.live) {
      if (sender === null && bytesEqual(frame.targetPublicKey, this.#deps.self) && this.#deps.isLiveMemberAt(from)) {
        this.#deps.unknownSender(frame.senderPublicKey, from);
      }
      return this.#drop('sender not a live member');
    }
    if (bytesEqual(frame.targetPublicKey, this.#deps.self)) {
      // Through a relay: `from` is the relay, which must itself be a live member.
      if (bytesEqual(frame.senderPublicKey, this.#deps.self)) return this.#drop('our own frame');
      if (!this.#deps.isLiveMemberAt(from)) return this.#drop('relay not a live member');
      if (!this.#limiter.allow(`in:${toHex(frame.senderPublicKey)}`, nowMs)) return this.#drop('rate limited');
      this.stats.framesDelivered++;
      this.#deps.deliver(frame.payload, frame.senderPublicKey, from);
      return;
    }
    if (!sameUdpEndpoint(sender.endpoint, from)) return this.#drop('sender not at its known address');
    const target = this.#deps.member(frame.targetPublicKey);
    if (target === null || !target.live || target.endpoint === null) return this.#drop('target not a live member');
    const pair = `${toHex(frame.senderPublicKey)}>${toHex(frame.targetPublicKey)}`;
    if (!this.#pairs.has(pair)) {
      this.#expirePairs(nowMs);
      if (this.#pairs.size >= this.#limits.capacity) return this.#drop('relay at capacity');
    }
    if (!this.#limiter.allow(toHex(frame.senderPublicKey), nowMs)) return this.#drop('rate limited');
    this.#pairs.set(pair, nowMs);
    this.stats.framesForwarded++;
    this.stats.bytesForwarded += bytes.length;
    this.#deps.forward(bytes, target.endpoint);
  }

  #expirePairs(nowMs: number): void {
    for (const [pair, at] of this.#pairs) if (nowMs - at >= this.#limits.pairIdleMs) this.#pairs.delete(pair);
  }

  /** Counts a frame dropped here, or by the sending side of NAT traversal. */
  countDrop(reason: RelayDropReason): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }

  #drop(reason: RelayDropReason): void {
    this.countDrop(reason);
  }
}
