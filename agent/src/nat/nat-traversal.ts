import { toHex } from '@meshguard/core';
import { sameUdpEndpoint } from '../swim/udp-endpoint.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { decodeHolepunchProbe } from './holepunch-codec.js';
import { HolePuncher, type HolePunchLimits, type HolePunchStats, type PunchMember } from './hole-puncher.js';
import { classifyNat, type NatClassification } from './nat-classification.js';
import type { NatType } from './nat-type.js';
import { PathManager, type PathTimings, type PathType, type RelayCandidate } from './path-manager.js';
import { encodeRelayFrame } from './relay-codec.js';
import { isRelayEndpoint, RelayRoutes } from './relay-routes.js';
import { RelayService, type RelayLimits, type RelayStats } from './relay-service.js';
import { StunProbe } from './stun-probe.js';

/** A member as NAT traversal needs it, from the membership layer. */
export interface NatMember extends PunchMember {
  readonly natType: NatType;
  /** Smoothed probe round trip, null until measured. */
  readonly rttMs: number | null;
}

export interface NatMembership {
  member(publicKey: Uint8Array): NatMember | null;
  /** The live member that speaks from this address, if any. */
  memberAt(from: UdpEndpoint): NatMember | null;
  liveMembers(): Iterable<NatMember>;
  /** Our public endpoint and NAT type changed: advertise them. */
  advertise(publicEndpoint: UdpEndpoint | null, natType: NatType): void;
  /** Ask the live member at `via` to introduce a key we do not know. */
  requestIntroduction(publicKey: Uint8Array, via: UdpEndpoint): void;
}

/** A WireGuard peer, named by the identity of its member. */
export interface NatPeer {
  readonly publicKey: Uint8Array;
  readonly lastHandshakeAt: number | null;
  readonly endpoint: UdpEndpoint | null;
}

export interface NatDataPlane {
  peers(): Iterable<NatPeer>;
  /** Send the peer's traffic to `endpoint` from now on, and start a handshake there. */
  setEndpoint(peer: Uint8Array, endpoint: UdpEndpoint): void;
  /** A WireGuard message that came through a relay, as if from `virtual`. */
  deliver(payload: Uint8Array, virtual: UdpEndpoint): void;
}

export interface NatTraversalOptions {
  readonly self: Uint8Array;
  readonly membership: NatMembership;
  readonly dataPlane: NatDataPlane;
  send(bytes: Uint8Array, to: UdpEndpoint): void;
  random(bytes: number): Uint8Array;
  log(line: string): void;
  /** STUN servers (two or more for a classification); none leaves the type unknown. */
  readonly stunServers: readonly UdpEndpoint[];
  /** Addresses of our interfaces and our port, to tell a public address from a NAT's. */
  localAddresses(): readonly string[];
  readonly localPort: number;
  /** A public node that knows its address (`--advertise`) needs no STUN. */
  readonly announced?: UdpEndpoint | null;
  readonly stunRefreshMs?: number;
  readonly punchLimits?: Partial<HolePunchLimits>;
  readonly relayLimits?: Partial<RelayLimits>;
  readonly pathTimings?: Partial<PathTimings>;
}

export interface NatStatus {
  readonly natType: NatType;
  readonly publicEndpoint: UdpEndpoint | null;
  readonly reason: string;
  readonly stunProblems: readonly string[];
  readonly punch: HolePunchStats;
  readonly relay: RelayStats & { readonly activePairs: number };
}

export const DEFAULT_STUN_REFRESH_MS = 300_000;
const PATH_TICK_MS = 500;

/**
 * NAT traversal for one node, sans I/O: STUN classification (refreshed, so a changed mapping
 * is noticed), hole punching, both ends of the relay, and per-peer path choice. The runtime
 * feeds it STUN answers, hole-punch messages, probes and relay frames from the mesh socket,
 * asks it to wrap WireGuard packets bound for a relayed peer, and ticks it.
 */
export class NatTraversal {
  readonly #o: NatTraversalOptions;
  readonly #routes = new RelayRoutes();
  readonly #puncher: HolePuncher;
  readonly #relay: RelayService;
  readonly #paths: PathManager;
  #classification: NatClassification;
  #stunProblems: readonly string[] = [];
  #probe: StunProbe | null = null;
  #nextStunAt = 0;
  #classified = false;
  #pathsTickedAt = -Infinity;

  constructor(options: NatTraversalOptions) {
    this.#o = options;
    const announced = options.announced ?? null;
    this.#classification =
      announced === null
        ? { natType: 'unknown', publicEndpoint: null, reason: 'STUN not run yet' }
        : { natType: 'public', publicEndpoint: announced, reason: 'announced with --advertise' };
    if (announced === null && options.stunServers.length === 0) {
      this.#classification = { natType: 'unknown', publicEndpoint: null, reason: 'no STUN servers configured' };
    }
    const m = options.membership;
    this.#puncher = new HolePuncher(
      {
        self: options.self,
        random: (n) => options.random(n),
        send: (bytes, to) => {
          options.send(bytes, to);
        },
        member: (key) => m.member(key),
        memberAt: (from) => m.memberAt(from),
        publicEndpoint: () => this.#classification.publicEndpoint,
        punched: (peer, endpoint) => {
          this.#paths.punched(peer, endpoint, this.#now);
        },
      },
      options.punchLimits,
    );
    this.#relay = new RelayService(
      {
        self: options.self,
        member: (key) => m.member(key),
        isLiveMemberAt: (from) => m.memberAt(from) !== null,
        unknownSender: (sender, relay) => {
          m.requestIntroduction(sender, relay);
        },
        forward: (bytes, to) => {
          options.send(bytes, to);
        },
        deliver: (payload, sender, relay) => {
          // Replies follow the frames back: through the relay they came from.
          const route = this.#routes.route(sender, relay);
          options.dataPlane.deliver(payload, route.virtual);
        },
      },
      options.relayLimits,
    );
    this.#paths = new PathManager(
      {
        self: options.self,
        ownNatType: () => this.#classification.natType,
        relayCandidates: (peer) => this.#relayCandidates(peer),
        punch: (peer, nowMs) => this.#punch(peer, nowMs),
        punchActive: (peer) => this.#puncher.active(peer),
        useRelay: (peer, relay) => {
          options.dataPlane.setEndpoint(peer, this.#routes.route(peer, relay.endpoint).virtual);
        },
        useDirect: (peer, endpoint) => {
          options.dataPlane.setEndpoint(peer, endpoint);
        },
        log: (line) => {
          options.log(line);
        },
      },
      options.pathTimings,
    );
  }

  // The latest time handed in, for callbacks that fire inside a handler.
  #now = 0;

  get natType(): NatType {
    return this.#classification.natType;
  }

  get publicEndpoint(): UdpEndpoint | null {
    return this.#classification.publicEndpoint;
  }

  peerAdded(peer: Uint8Array, nowMs: number): void {
    this.#paths.added(peer, nowMs);
  }

  peerRemoved(peer: Uint8Array): void {
    this.#paths.removed(peer);
    this.#routes.forget(peer);
  }

  pathOf(peer: NatPeer, nowMs: number): PathType {
    const member = this.#o.membership.member(peer.publicKey);
    return this.#paths.pathOf(
      {
        publicKey: peer.publicKey,
        natType: member?.natType ?? 'unknown',
        lastHandshakeAt: peer.lastHandshakeAt,
        deviceEndpoint: peer.endpoint,
      },
      nowMs,
    );
  }

  /** The relay's address for a relayed peer. */
  relayOf(peer: Uint8Array): UdpEndpoint | null {
    return this.#routes.forPeer(peer)?.relay ?? null;
  }

  /** A STUN answer from the mesh socket. */
  handleStun(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    this.#now = nowMs;
    if (this.#probe?.handle(bytes, from) === true && this.#probe.done) this.#finishStun();
  }

  /** A 0x33/0x34 datagram. */
  handleHolepunch(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    this.#now = nowMs;
    this.#puncher.handleMessage(bytes, from, nowMs);
  }

  handleProbe(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    this.#now = nowMs;
    this.#puncher.handleProbe(decodeHolepunchProbe(bytes), from, nowMs);
  }

  handleRelayFrame(bytes: Uint8Array, from: UdpEndpoint, nowMs: number): void {
    this.#now = nowMs;
    this.#relay.handleFrame(bytes, from, nowMs);
  }

  /**
   * A WireGuard packet the device sends to `to`: null when `to` is a real address (send as
   * is), else the relay frame and the relay to send it to. An unknown virtual address (the
   * peer was just removed) gives an empty frame: drop it.
   */
  wrapForRelay(packet: Uint8Array, to: UdpEndpoint): { readonly frame: Uint8Array; readonly to: UdpEndpoint } | null {
    if (!isRelayEndpoint(to)) return null;
    const route = this.#routes.forVirtual(to);
    if (route === undefined) {
      this.#relay.countDrop('no relay route');
      return { frame: new Uint8Array(0), to };
    }
    const frame = encodeRelayFrame({ senderPublicKey: this.#o.self, targetPublicKey: route.peer, payload: packet });
    return { frame, to: route.relay };
  }

  tick(nowMs: number): void {
    this.#now = nowMs;
    this.#stunTick(nowMs);
    this.#puncher.tick(nowMs);
    for (const { peer, outcome } of this.#puncher.takeOutcomes()) {
      if (outcome === 'failed') this.#paths.punchFailed(peer, nowMs);
    }
    // Paths change on a scale of seconds; probes above need the fine tick, this does not.
    if (nowMs - this.#pathsTickedAt < PATH_TICK_MS) return;
    this.#pathsTickedAt = nowMs;
    const membership = this.#o.membership;
    const peers = [...this.#o.dataPlane.peers()].map((p) => ({
      publicKey: p.publicKey,
      natType: membership.member(p.publicKey)?.natType ?? 'unknown',
      lastHandshakeAt: p.lastHandshakeAt,
      deviceEndpoint: p.endpoint,
    }));
    this.#paths.tick(peers, nowMs);
  }

  status(): NatStatus {
    return {
      natType: this.#classification.natType,
      publicEndpoint: this.#classification.publicEndpoint,
      reason: this.#classification.reason,
      stunProblems: this.#stunProblems,
      punch: this.#puncher.stats,
      relay: { ...this.#relay.stats, activePairs: this.#relay.activePairs },
    };
  }

  #stunTick(nowMs: number): void {
    if (this.#o.stunServers.length === 0 || (this.#o.announced ?? null) !== null) return;
    if (this.#probe === null && nowMs >= this.#nextStunAt) {
      this.#probe = new StunProbe(this.#o.stunServers, (n) => this.#o.random(n), nowMs);
      this.#nextStunAt = nowMs + (this.#o.stunRefreshMs ?? DEFAULT_STUN_REFRESH_MS);
    }
    if (this.#probe === null) return;
    for (const d of this.#probe.tick(nowMs)) this.#o.send(d.bytes, d.to);
    if (this.#probe.done) this.#finishStun();
  }

  #finishStun(): void {
    const probe = this.#probe;
    if (probe === null) return;
    this.#probe = null;
    const next = classifyNat(probe.observations, this.#o.localAddresses(), this.#o.localPort);
    this.#stunProblems = probe.problems;
    const before = this.#classification;
    const first = !this.#classified;
    this.#classified = true;
    this.#classification = next;
    if (!first && before.natType === next.natType && sameUdpEndpoint(before.publicEndpoint, next.publicEndpoint)) {
      return;
    }
    const where = next.publicEndpoint === null ? '' : ` ${next.publicEndpoint.address}:${next.publicEndpoint.port}`;
    this.#o.log(`nat: ${next.natType}${where} (${next.reason})`);
    for (const problem of probe.problems) this.#o.log(`nat: STUN ${problem}`);
    this.#o.membership.advertise(next.publicEndpoint, next.natType);
  }

  #relayCandidates(peer: Uint8Array): RelayCandidate[] {
    const out: RelayCandidate[] = [];
    const peerKey = toHex(peer);
    const self = toHex(this.#o.self);
    for (const m of this.#o.membership.liveMembers()) {
      const key = toHex(m.publicKey);
      if (m.natType !== 'public' || m.endpoint === null || key === peerKey || key === self) continue;
      out.push({ publicKey: m.publicKey, endpoint: m.endpoint, rttMs: m.rttMs });
    }
    return out;
  }

  /** Through the live public member with the lowest round trip that is not the target. */
  #punch(peer: Uint8Array, nowMs: number): boolean {
    const target = this.#o.membership.member(peer);
    if (target === null || !target.live) return false;
    const rendezvous = this.#relayCandidates(peer).sort((a, b) => (a.rttMs ?? Infinity) - (b.rttMs ?? Infinity))[0];
    if (rendezvous === undefined) return false;
    const member = this.#o.membership.member(rendezvous.publicKey);
    if (member === null) return false;
    const problem = this.#puncher.start(target, member, nowMs);
    if (problem !== null) {
      this.#o.log(`punch to ${toHex(peer).slice(0, 8)}: ${problem}`);
      return false;
    }
    return true;
  }
}
