import { toHex } from '@meshguard/core';
import { sameUdpEndpoint } from '../swim/udp-endpoint.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { NatType } from './nat-type.js';
import { isRelayEndpoint } from './relay-routes.js';

/**
 * How traffic reaches a peer: straight to its address, through a hole we punched, through a
 * relay, or nothing working yet.
 */
export type PathType = 'direct' | 'punched' | 'relay' | 'connecting';

/** A WireGuard peer as the path manager sees it each tick. */
export interface PathPeer {
  readonly publicKey: Uint8Array;
  readonly natType: NatType;
  /** Monotonic ms of the last completed handshake, or null. */
  readonly lastHandshakeAt: number | null;
  /** Where the device sends to now (a relay's virtual endpoint while relayed). */
  readonly deviceEndpoint: UdpEndpoint | null;
}

export interface RelayCandidate {
  readonly publicKey: Uint8Array;
  readonly endpoint: UdpEndpoint;
  /** Smoothed round trip from membership probes; null if not measured yet. */
  readonly rttMs: number | null;
}

export interface PathManagerDeps {
  readonly self: Uint8Array;
  ownNatType(): NatType;
  /** Live public members able to relay, other than us and `peer`. */
  relayCandidates(peer: Uint8Array): RelayCandidate[];
  /** Start a hole punch; false if it could not start (no rendezvous, no slot…). */
  punch(peer: Uint8Array, nowMs: number): boolean;
  punchActive(peer: Uint8Array): boolean;
  /** Route the peer through `relay` (the runtime points the device at a virtual endpoint). */
  useRelay(peer: Uint8Array, relay: RelayCandidate): void;
  /** Point the device at a direct endpoint. */
  useDirect(peer: Uint8Array, endpoint: UdpEndpoint): void;
  log(line: string): void;
}

export interface PathTimings {
  /** How long a new peer gets to handshake on its own before we punch or relay. */
  readonly directGraceMs: number;
  /** How long a relay gets to carry a handshake before we try the next one. */
  readonly relayGraceMs: number;
  /** A relay that failed is not tried again for this long. */
  readonly relayPenaltyMs: number;
  /** First wait between punch attempts to the same peer; doubles per failure. */
  readonly punchBackoffMs: number;
  readonly punchBackoffMaxMs: number;
  /** A session is established while its last handshake is younger than this (WireGuard's reject-after). */
  readonly establishedMs: number;
}

export const DEFAULT_PATH_TIMINGS: PathTimings = {
  directGraceMs: 6000,
  relayGraceMs: 12_000,
  relayPenaltyMs: 120_000,
  punchBackoffMs: 15_000,
  punchBackoffMaxMs: 600_000,
  establishedMs: 180_000,
};

interface PeerPath {
  readonly publicKey: Uint8Array;
  /** When the current attempt (direct, relay) began. */
  since: number;
  relay: RelayCandidate | null;
  readonly failedRelays: Map<string, number>;
  punched: UdpEndpoint | null;
  nextPunchAt: number;
  punchFailures: number;
}

/**
 * Chooses each peer's path, sans I/O (spec §9.4, with what the reference leaves out: RTT,
 * failover and upgrades). A new peer first gets a few seconds to handshake directly — most
 * pairs need nothing more. Then two cone-NATed peers punch a hole (the smaller identity key
 * starts, so the two sides do not race); a pair that cannot punch (a symmetric NAT, an unknown
 * type, a punch that failed) goes through the live public member with the lowest round trip,
 * falling over to the next when a relay carries no handshake. A relayed pair that could punch
 * keeps trying, with backoff, and moves to the direct path once a hole opens; a peer that
 * starts reaching us directly moves by WireGuard's own roaming.
 */
export class PathManager {
  readonly #deps: PathManagerDeps;
  readonly #t: PathTimings;
  readonly #paths = new Map<string, PeerPath>();

  constructor(deps: PathManagerDeps, timings: Partial<PathTimings> = {}) {
    this.#deps = deps;
    this.#t = { ...DEFAULT_PATH_TIMINGS, ...timings };
  }

  added(peer: Uint8Array, nowMs: number): void {
    this.#paths.set(toHex(peer), {
      publicKey: Uint8Array.from(peer),
      since: nowMs,
      relay: null,
      failedRelays: new Map(),
      punched: null,
      nextPunchAt: nowMs,
      punchFailures: 0,
    });
  }

  removed(peer: Uint8Array): void {
    this.#paths.delete(toHex(peer));
  }

  /** What a peer's traffic takes now. */
  pathOf(peer: PathPeer, nowMs: number): PathType {
    const p = this.#paths.get(toHex(peer.publicKey));
    if (peer.deviceEndpoint !== null && isRelayEndpoint(peer.deviceEndpoint)) return 'relay';
    if (!this.#established(peer, nowMs)) return 'connecting';
    if (p?.punched != null && peer.deviceEndpoint !== null && sameUdpEndpoint(p.punched, peer.deviceEndpoint)) {
      return 'punched';
    }
    return 'direct';
  }

  /** The relay a peer goes through, if relayed. */
  relayOf(peer: Uint8Array): RelayCandidate | null {
    return this.#paths.get(toHex(peer))?.relay ?? null;
  }

  punched(peer: Uint8Array, endpoint: UdpEndpoint, nowMs: number): void {
    const p = this.#paths.get(toHex(peer));
    if (p === undefined) return;
    p.punched = endpoint;
    p.punchFailures = 0;
    p.relay = null;
    p.since = nowMs;
    this.#deps.useDirect(peer, endpoint);
    this.#deps.log(`path to ${short(peer)}: punched ${endpoint.address}:${endpoint.port}`);
  }

  punchFailed(peer: Uint8Array, nowMs: number): void {
    const p = this.#paths.get(toHex(peer));
    if (p === undefined) return;
    p.punchFailures++;
    p.nextPunchAt =
      nowMs + Math.min(this.#t.punchBackoffMaxMs, this.#t.punchBackoffMs * 2 ** Math.min(20, p.punchFailures - 1));
  }

  tick(peers: Iterable<PathPeer>, nowMs: number): void {
    for (const peer of peers) {
      const p = this.#paths.get(toHex(peer.publicKey));
      if (p !== undefined) this.#step(p, peer, nowMs);
    }
  }

  #step(p: PeerPath, peer: PathPeer, nowMs: number): void {
    const established = this.#established(peer, nowMs);
    const relayed = peer.deviceEndpoint !== null && isRelayEndpoint(peer.deviceEndpoint);
    const punchable = this.#punchable(peer);
    if (established) {
      if (!relayed) {
        // WireGuard roamed us onto a direct path (or we were never relayed): the relay is done.
        p.relay = null;
        return;
      }
      // Relayed and working: keep trying for a direct path.
      if (punchable) this.#tryPunch(p, nowMs);
      return;
    }
    if (relayed && p.relay !== null) {
      if (nowMs - p.since < this.#t.relayGraceMs) return;
      // This relay carried no handshake: penalise it and fall over to the next.
      p.failedRelays.set(toHex(p.relay.publicKey), nowMs + this.#t.relayPenaltyMs);
      this.#deps.log(`path to ${short(p.publicKey)}: relay ${short(p.relay.publicKey)} carried no handshake`);
      p.relay = null;
    } else if (nowMs - p.since < this.#t.directGraceMs) {
      return;
    }
    if (punchable && p.punchFailures === 0 && !this.#deps.punchActive(p.publicKey)) {
      // First failure of the direct path between two cone NATs: a punch usually fixes it.
      if (this.#tryPunch(p, nowMs)) return;
      // The other side starts the punch; give it the time one takes before settling for a relay.
      if (!isSmaller(this.#deps.self, p.publicKey) && nowMs - p.since < 2 * this.#t.directGraceMs) return;
    }
    if (this.#deps.punchActive(p.publicKey)) return;
    this.#relay(p, nowMs);
  }

  #relay(p: PeerPath, nowMs: number): void {
    for (const [key, until] of p.failedRelays) if (until <= nowMs) p.failedRelays.delete(key);
    const candidates = this.#deps
      .relayCandidates(p.publicKey)
      .filter((c) => !p.failedRelays.has(toHex(c.publicKey)))
      .sort((a, b) => (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity));
    const best = candidates[0];
    p.since = nowMs;
    if (best === undefined) return;
    p.relay = best;
    this.#deps.useRelay(p.publicKey, best);
    this.#deps.log(
      `path to ${short(p.publicKey)}: relay ${short(best.publicKey)} (${best.endpoint.address}:${best.endpoint.port}` +
        `${best.rttMs === null ? '' : `, rtt ${best.rttMs.toFixed(1)} ms`})`,
    );
  }

  #tryPunch(p: PeerPath, nowMs: number): boolean {
    if (nowMs < p.nextPunchAt || this.#deps.punchActive(p.publicKey)) return false;
    // One side starts, so the two do not race with crossing requests: the smaller key.
    if (!isSmaller(this.#deps.self, p.publicKey)) return false;
    if (!this.#deps.punch(p.publicKey, nowMs)) {
      this.punchFailed(p.publicKey, nowMs);
      return false;
    }
    p.nextPunchAt = nowMs + this.#t.punchBackoffMs;
    return true;
  }

  #punchable(peer: PathPeer): boolean {
    return this.#deps.ownNatType() === 'cone' && peer.natType === 'cone';
  }

  #established(peer: PathPeer, nowMs: number): boolean {
    return peer.lastHandshakeAt !== null && nowMs - peer.lastHandshakeAt < this.#t.establishedMs;
  }
}

function isSmaller(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

function short(key: Uint8Array): string {
  return toHex(key).slice(0, 8);
}
