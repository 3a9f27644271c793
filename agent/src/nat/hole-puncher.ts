import { bytesEqual, DecodeError, toHex } from '@meshguard/core';
import { fromWireEndpoint, sameUdpEndpoint, toWireEndpoint } from '../swim/udp-endpoint.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import {
  decodeHolepunchRequest,
  decodeHolepunchResponse,
  encodeHolepunchProbe,
  encodeHolepunchRequest,
  encodeHolepunchResponse,
  HOLEPUNCH_TOKEN_BYTES,
  TAG_HOLEPUNCH_REQUEST,
  TAG_HOLEPUNCH_RESPONSE,
} from './holepunch-codec.js';

/** What the puncher needs to know about a member, from the membership layer. */
export interface PunchMember {
  readonly publicKey: Uint8Array;
  /** Where this node reaches it (its SWIM address), or null. */
  readonly endpoint: UdpEndpoint | null;
  /** Alive and admitted: only such members may use us as a rendezvous or be punched to. */
  readonly live: boolean;
}

export interface HolePuncherDeps {
  readonly self: Uint8Array;
  random(bytes: number): Uint8Array;
  send(bytes: Uint8Array, to: UdpEndpoint): void;
  member(publicKey: Uint8Array): PunchMember | null;
  /** The live member that speaks from this address (its SWIM address), if any. */
  memberAt(from: UdpEndpoint): PunchMember | null;
  /** Our STUN-derived public endpoint, or null if unknown. */
  publicEndpoint(): UdpEndpoint | null;
  /** A session succeeded: `endpoint` is a working path to `peer` through both NATs. */
  punched(peer: Uint8Array, endpoint: UdpEndpoint): void;
}

export interface HolePunchLimits {
  /** Sessions this node started that may run at once (the reference has 4 slots). */
  readonly maxInitiated: number;
  /** Sessions started at others' request: bounds what a flood of requests can cost. */
  readonly maxAnswered: number;
  /** Requests this node forwards as a rendezvous, remembered until their response passes. */
  readonly maxForwarded: number;
  readonly probeIntervalMs: number;
  /** Probes per session; with the interval, how long a session tries. */
  readonly probesPerSession: number;
  /** Probes sent after success, so the other side (whose NAT opened later) also succeeds. */
  readonly probesAfterSuccess: number;
  /** How long an initiator waits for the response before the session fails. */
  readonly responseTimeoutMs: number;
}

export const DEFAULT_HOLE_PUNCH_LIMITS: HolePunchLimits = {
  maxInitiated: 4,
  maxAnswered: 16,
  maxForwarded: 64,
  probeIntervalMs: 100,
  probesPerSession: 50,
  probesAfterSuccess: 5,
  responseTimeoutMs: 3000,
};

type Role = 'initiator' | 'target';

interface Session {
  readonly role: Role;
  readonly peer: Uint8Array;
  readonly token: Uint8Array;
  readonly startedAt: number;
  /** Where the peer's probes must come from and ours go; null until the response arrives. */
  expected: UdpEndpoint | null;
  probesLeft: number;
  nextProbeAt: number;
  succeeded: boolean;
}

interface Forwarded {
  readonly initiator: Uint8Array;
  readonly initiatorAt: UdpEndpoint;
  readonly target: Uint8Array;
  readonly at: number;
}

export type PunchOutcome = 'succeeded' | 'failed';

/** Why a hole-punch request, response or probe was dropped: a fixed set, so metrics can label by it. */
export const HOLE_PUNCH_DROP_REASONS = [
  'not a hole-punch message',
  'malformed',
  'probe with unknown token',
  'probe from an unexpected address',
  'our own request',
  'request not from a live member',
  'request for an unknown initiator',
  'request without a usable endpoint',
  'our public endpoint is unknown',
  'duplicate token',
  'answer slots busy',
  'request from a sender not at its known address',
  'request for an unknown target',
  'forwarding table full',
  'request from a non-IP address',
  'response not from the forwarded target',
  'response from a non-IP address',
  'response with unknown token',
  'response from another node',
  'response not through a live member',
  'response without a usable endpoint',
] as const;

export type HolePunchDropReason = (typeof HOLE_PUNCH_DROP_REASONS)[number];

export interface HolePunchStats {
  started: number;
  succeeded: number;
  failed: number;
  answered: number;
  forwarded: number;
  /** Requests, responses and probes dropped, by why. */
  readonly dropped: Partial<Record<HolePunchDropReason, number>>;
}

/**
 * Hole punching through a mutual rendezvous (spec §8), sans I/O, fixing what the reference
 * leaves open (spec §15–16):
 *  - the rendezvous forwards the response back to the initiator (the reference drops it, so
 *    only the target ever probes), and forwards only between two live members, each speaking
 *    from the address it is known at — so a stranger cannot use it as a reflector;
 *  - the rendezvous writes into each message the address it *sees* the other side at, which
 *    for a cone NAT is the mapping every peer sees — better evidence than the sender's claim;
 *  - every attempt has a fresh 16-byte random token, and a session is (peer, token): a
 *    response counts only from the rendezvous for the session's target, and a probe only with
 *    the session's token *from the address the session expects* — a probe from anywhere else
 *    cannot redirect the peer's traffic;
 *  - sessions, forwarded requests and probes are all bounded.
 */
export class HolePuncher {
  readonly #deps: HolePuncherDeps;
  readonly #limits: HolePunchLimits;
  readonly #sessions = new Map<string, Session>(); // by token hex
  readonly #forwarded = new Map<string, Forwarded>(); // by token hex
  readonly #outcomes: Array<{ peer: Uint8Array; outcome: PunchOutcome }> = [];
  readonly stats: HolePunchStats = { started: 0, succeeded: 0, failed: 0, answered: 0, forwarded: 0, dropped: {} };

  constructor(deps: HolePuncherDeps, limits: Partial<HolePunchLimits> = {}) {
    this.#deps = deps;
    this.#limits = { ...DEFAULT_HOLE_PUNCH_LIMITS, ...limits };
  }

  /** Is a session with this peer running? */
  active(peer: Uint8Array): boolean {
    for (const s of this.#sessions.values()) if (!s.succeeded && bytesEqual(s.peer, peer)) return true;
    return false;
  }

  /** Sessions that ended since the last call, for the path manager's bookkeeping. */
  takeOutcomes(): Array<{ peer: Uint8Array; outcome: PunchOutcome }> {
    return this.#outcomes.splice(0);
  }

  /**
   * Starts a punch to `target` through `rendezvous` (both live members). Returns why not, or
   * null when the request went out.
   */
  start(target: PunchMember, rendezvous: PunchMember, nowMs: number): string | null {
    const own = this.#deps.publicEndpoint();
    if (own === null) return 'our public endpoint is unknown';
    if (rendezvous.endpoint === null || !rendezvous.live) return 'rendezvous unreachable';
    if (bytesEqual(rendezvous.publicKey, target.publicKey)) return 'the target cannot be its own rendezvous';
    if (this.active(target.publicKey)) return 'a session with this peer is running';
    if (this.#count('initiator') >= this.#limits.maxInitiated) return 'all initiator slots busy';
    const wire = toWireEndpoint(own);
    if (wire === null) return 'our public endpoint is not an IP endpoint';
    const token = this.#deps.random(HOLEPUNCH_TOKEN_BYTES);
    this.#sessions.set(toHex(token), {
      role: 'initiator',
      peer: Uint8Array.from(target.publicKey),
      token,
      startedAt: nowMs,
      expected: null,
      probesLeft: this.#limits.probesPerSession,
      nextProbeAt: Infinity,
      succeeded: false,
    });
    this.stats.started++;
    this.#deps.send(
      encodeHolepunchRequest({
        senderPublicKey: this.#deps.self,
        targetPublicKey: target.publicKey,
        publicEndpoint: wire,
        token,
      }),
      rendezvous.endpoint,
    );
    return null;
  }

  /** A 0x33 or 0x34 datagram. Never throws on bad bytes. */
  handleMessage(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    try {
      if (bytes[0] === TAG_HOLEPUNCH_REQUEST) this.#onRequest(bytes, from, nowMs);
      else if (bytes[0] === TAG_HOLEPUNCH_RESPONSE) this.#onResponse(bytes, from, nowMs);
      else this.#drop('not a hole-punch message');
    } catch (err) {
      if (err instanceof DecodeError) this.#drop('malformed');
      else throw err;
    }
  }

  /** An "MGHP" probe's token and where it came from. */
  handleProbe(token: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    const session = this.#sessions.get(toHex(token));
    if (session === undefined) return this.#drop('probe with unknown token');
    if (session.expected === null || !sameUdpEndpoint(session.expected, from)) {
      return this.#drop('probe from an unexpected address');
    }
    if (session.succeeded) return;
    session.succeeded = true;
    session.probesLeft = Math.min(session.probesLeft, this.#limits.probesAfterSuccess);
    // Answer at once: the peer learns of success from our probe, not from our next tick.
    session.nextProbeAt = nowMs;
    this.stats.succeeded++;
    this.#outcomes.push({ peer: session.peer, outcome: 'succeeded' });
    this.#deps.punched(session.peer, { address: from.address, port: from.port });
    this.tick(nowMs);
  }

  /** Sends due probes and ends sessions whose time is up. */
  tick(nowMs: number): void {
    for (const [key, s] of this.#sessions) {
      const waitedTooLong = s.expected === null && nowMs - s.startedAt >= this.#limits.responseTimeoutMs;
      if (waitedTooLong || (s.expected !== null && s.probesLeft === 0)) {
        this.#sessions.delete(key);
        if (!s.succeeded) {
          this.stats.failed++;
          this.#outcomes.push({ peer: s.peer, outcome: 'failed' });
        }
        continue;
      }
      if (s.expected === null || nowMs < s.nextProbeAt) continue;
      this.#deps.send(encodeHolepunchProbe(s.token), s.expected);
      s.probesLeft--;
      s.nextProbeAt = nowMs + this.#limits.probeIntervalMs;
    }
    for (const [key, f] of this.#forwarded) {
      if (nowMs - f.at >= this.#limits.responseTimeoutMs) this.#forwarded.delete(key);
    }
  }

  #onRequest(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    const request = decodeHolepunchRequest(bytes);
    if (bytesEqual(request.senderPublicKey, this.#deps.self)) return this.#drop('our own request');
    if (!bytesEqual(request.targetPublicKey, this.#deps.self)) {
      this.#forwardRequest(request.senderPublicKey, request.targetPublicKey, request.token, from, nowMs);
      return;
    }
    // We are the target. The request must come through a live member (the rendezvous), on
    // behalf of a live member: a stranger's request would make us probe wherever it says.
    const rendezvous = this.#deps.memberAt(from);
    if (rendezvous === null) return this.#drop('request not from a live member');
    const initiator = this.#deps.member(request.senderPublicKey);
    if (initiator === null || !initiator.live) return this.#drop('request for an unknown initiator');
    const expected = fromWireEndpoint(request.publicEndpoint);
    if (expected === null) return this.#drop('request without a usable endpoint');
    const own = this.#deps.publicEndpoint();
    const wire = toWireEndpoint(own);
    if (wire === null) return this.#drop('our public endpoint is unknown');
    const key = toHex(request.token);
    if (this.#sessions.has(key)) return this.#drop('duplicate token');
    if (this.#count('target') >= this.#limits.maxAnswered) return this.#drop('answer slots busy');
    this.#sessions.set(key, {
      role: 'target',
      peer: Uint8Array.from(request.senderPublicKey),
      token: request.token,
      startedAt: nowMs,
      expected,
      probesLeft: this.#limits.probesPerSession,
      nextProbeAt: nowMs,
      succeeded: false,
    });
    this.stats.answered++;
    this.#deps.send(
      encodeHolepunchResponse({ senderPublicKey: this.#deps.self, publicEndpoint: wire, token: request.token }),
      from,
    );
    // Our first probe opens our NAT toward the initiator while the response travels.
    this.tick(nowMs);
  }

  #forwardRequest(sender: Uint8Array, target: Uint8Array, token: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    const initiator = this.#deps.member(sender);
    if (initiator === null || !initiator.live || !sameUdpEndpoint(initiator.endpoint, from)) {
      return this.#drop('request from a sender not at its known address');
    }
    const targetMember = this.#deps.member(target);
    if (targetMember === null || !targetMember.live || targetMember.endpoint === null) {
      return this.#drop('request for an unknown target');
    }
    const key = toHex(token);
    if (this.#forwarded.has(key)) return this.#drop('duplicate token');
    if (this.#forwarded.size >= this.#limits.maxForwarded) return this.#drop('forwarding table full');
    const seen = toWireEndpoint(from);
    if (seen === null) return this.#drop('request from a non-IP address');
    this.#forwarded.set(key, { initiator: Uint8Array.from(sender), initiatorAt: from, target, at: nowMs });
    this.stats.forwarded++;
    this.#deps.send(
      encodeHolepunchRequest({ senderPublicKey: sender, targetPublicKey: target, publicEndpoint: seen, token }),
      targetMember.endpoint,
    );
  }

  #onResponse(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    const response = decodeHolepunchResponse(bytes);
    const key = toHex(response.token);
    const forwarded = this.#forwarded.get(key);
    if (forwarded !== undefined) {
      // As the rendezvous: only the target we forwarded to, from where we reach it, may answer.
      const target = this.#deps.member(forwarded.target);
      if (
        !bytesEqual(response.senderPublicKey, forwarded.target) ||
        target === null ||
        !sameUdpEndpoint(target.endpoint, from)
      ) {
        return this.#drop('response not from the forwarded target');
      }
      const seen = toWireEndpoint(from);
      if (seen === null) return this.#drop('response from a non-IP address');
      this.#forwarded.delete(key);
      this.#deps.send(
        encodeHolepunchResponse({
          senderPublicKey: response.senderPublicKey,
          publicEndpoint: seen,
          token: response.token,
        }),
        forwarded.initiatorAt,
      );
      return;
    }
    const session = this.#sessions.get(key);
    if (session?.role !== 'initiator' || session.expected !== null) return this.#drop('response with unknown token');
    if (!bytesEqual(response.senderPublicKey, session.peer)) return this.#drop('response from another node');
    if (this.#deps.memberAt(from) === null) return this.#drop('response not through a live member');
    const expected = fromWireEndpoint(response.publicEndpoint);
    if (expected === null) return this.#drop('response without a usable endpoint');
    session.expected = expected;
    session.nextProbeAt = nowMs;
    this.tick(nowMs);
  }

  #count(role: Role): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.role === role && !s.succeeded) n++;
    return n;
  }

  #drop(reason: HolePunchDropReason): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1;
  }
}
