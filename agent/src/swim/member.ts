import { meshAddresses, toHex, type AllowReason, type MeshAddresses, type RecordedCertificate } from '@meshguard/core';
import type { NatType } from '../nat/nat-type.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { RumourHandle } from './broadcast-queue.js';
import type { Endpoint } from './endpoint-codec.js';
import type { GossipEvent } from './gossip-entry-codec.js';
import type { Suspicion } from './suspicion.js';
import type { Timer } from './timer-queue.js';

/**
 * `left` is entered only after the member said it was leaving *and* stopped answering us;
 * `dead` only after our own probes failed for a full suspicion timeout (or its org revoked it).
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export type WireGuardKeySource = 'certificate' | 'gossip';

/** A third party's suspect/dead/leave about a member we still think alive, awaiting our own probe. */
export interface PendingClaim {
  event: Extract<GossipEvent, 'suspect' | 'dead' | 'leave'>;
  incarnation: bigint;
  /** Distinct senders of the claim; they become confirmations if our probe fails too. */
  readonly claimers: Set<string>;
  timer: Timer | null;
}

/**
 * The admission decision we last made for this member, reused until trust or time invalidates
 * it. It has the shape of the gate's positive verdict (with nothing new to record), so the gate
 * hands this very object back for every message and entry about a member it already admitted
 * rather than building one each time — tens of millions of times in a large simulation.
 */
export interface CachedAdmission {
  readonly allowed: true;
  readonly certificate: null;
  readonly certificateBytes: null;
  readonly epoch: number;
  /** Unix seconds after which the decision must be made again (a certificate's expiry); Infinity if never. */
  readonly untilSeconds: number;
  readonly reason: AllowReason;
}

/** The node's mutable record of one member; never handed out (see MemberSnapshot). */
export interface Member {
  readonly key: string;
  readonly publicKey: Uint8Array;
  state: MemberState;
  /** The subject's incarnation as we know it; gossip entries about it carry this as their lamport. */
  incarnation: bigint;
  stateChangedAt: number;
  /** Where we send its SWIM traffic. */
  endpoint: UdpEndpoint | null;
  /** True once it answered a probe sent to `endpoint`; a confirmed endpoint is not moved by hearsay. */
  endpointConfirmed: boolean;
  wgPublicKey: Uint8Array | null;
  wgKeySource: WireGuardKeySource | null;
  publicEndpoint: Endpoint | null;
  natType: NatType;
  /** Smoothed round trip of prompt direct probes (ms), null until one was measured. */
  rttMs: number | null;
  /** The Ping/Ack `incarnation` field (spec §7.7): its process start, 0 until seen. */
  restartEpoch: bigint;
  certificate: RecordedCertificate | undefined;
  /** The exact slot we validated, so an identical one is not verified again. */
  certificateBytes: Uint8Array | null;
  admission: CachedAdmission | null;
  suspicion: Suspicion | null;
  suspicionTimer: Timer | null;
  claim: PendingClaim | null;
  /** After our own probe disproved a claim: claims up to this incarnation are ignored until `clearedUntil`. */
  clearedThrough: bigint;
  clearedUntil: number;
  lastHeardAt: number;
  /** It has sent us something, so it knows us: no need to introduce ourselves. */
  heardFrom: boolean;
  /** Our own incarnation when we last sent it our self entry directly; -1 = never. */
  selfSentIncarnation: bigint;
  retentionTimer: Timer | null;
  /** Extra probe patience after it had to refute suspicions (see SwimNode), decaying over time. */
  patience: number;
  patienceAt: number;
  /** Our latest rumour about it, while queued. */
  rumour: RumourHandle | null;
  /** Position in the probe order (-1 when not in it). */
  probeSlot: number;
}

export function newMember(
  key: string,
  publicKey: Uint8Array,
  incarnation: bigint,
  endpoint: UdpEndpoint | null,
  now: number,
): Member {
  return {
    key,
    publicKey,
    state: 'alive',
    incarnation,
    stateChangedAt: now,
    endpoint,
    endpointConfirmed: false,
    wgPublicKey: null,
    wgKeySource: null,
    publicEndpoint: null,
    natType: 'unknown',
    restartEpoch: 0n,
    certificate: undefined,
    certificateBytes: null,
    admission: null,
    suspicion: null,
    suspicionTimer: null,
    claim: null,
    clearedThrough: -1n,
    clearedUntil: -Infinity,
    lastHeardAt: now,
    heardFrom: false,
    selfSentIncarnation: -1n,
    retentionTimer: null,
    patience: 0,
    patienceAt: now,
    rttMs: null,
    rumour: null,
    probeSlot: -1,
  };
}

/** What `SwimNode.members()` and events carry: a copy, so callers cannot reach into the state machine. */
export class MemberSnapshot {
  readonly state: MemberState;
  readonly incarnation: bigint;
  readonly endpoint: UdpEndpoint | null;
  readonly wgKeySource: WireGuardKeySource | null;
  readonly publicEndpoint: Endpoint | null;
  readonly natType: NatType;
  /** Smoothed direct-probe round trip (ms), null until measured. */
  readonly rttMs: number | null;
  /** Monotonic ms of the last state change. */
  readonly stateChangedAt: number;
  readonly admittedBy: AllowReason | null;
  // The node never mutates a key array in place (a new key is a new array), so holding its
  // arrays and copying on access is as safe as copying now — and events are mostly ignored.
  readonly #publicKey: Uint8Array;
  readonly #wgPublicKey: Uint8Array | null;
  readonly #certificateOrg: Uint8Array | null;
  #addresses: MeshAddresses | null = null;

  constructor(m: Member) {
    this.#publicKey = m.publicKey;
    this.#wgPublicKey = m.wgPublicKey;
    this.#certificateOrg = m.certificate?.orgPublicKey ?? null;
    this.state = m.state;
    this.incarnation = m.incarnation;
    this.endpoint = m.endpoint;
    this.wgKeySource = m.wgKeySource;
    this.publicEndpoint = m.publicEndpoint;
    this.natType = m.natType;
    this.rttMs = m.rttMs;
    this.stateChangedAt = m.stateChangedAt;
    this.admittedBy = m.admission?.reason ?? null;
  }

  /** A copy of the member's identity key. */
  get publicKey(): Uint8Array {
    return Uint8Array.from(this.#publicKey);
  }

  /** A copy of its bound WireGuard key, if any. */
  get wgPublicKey(): Uint8Array | null {
    return this.#wgPublicKey === null ? null : Uint8Array.from(this.#wgPublicKey);
  }

  /** A copy of the org key of the certificate it was admitted with, if any (service policy by org). */
  get certificateOrg(): Uint8Array | null {
    return this.#certificateOrg === null ? null : Uint8Array.from(this.#certificateOrg);
  }

  /** The identity key in hex, for logs and maps. */
  get publicKeyHex(): string {
    return toHex(this.#publicKey);
  }

  /** Whether this is the member with `publicKey`, without copying anything. */
  is(publicKey: Uint8Array): boolean {
    if (publicKey.length !== this.#publicKey.length) return false;
    for (let i = 0; i < publicKey.length; i++) if (publicKey[i] !== this.#publicKey[i]) return false;
    return true;
  }

  // Derived on demand: a BLAKE3 per snapshot would be most of an event's cost.
  get meshIPv4(): string {
    return this.#mesh().ipv4;
  }

  get meshIPv6(): string {
    return this.#mesh().ipv6;
  }

  #mesh(): MeshAddresses {
    this.#addresses ??= meshAddresses(this.#publicKey);
    return this.#addresses;
  }
}

export function snapshotMember(m: Member): MemberSnapshot {
  return new MemberSnapshot(m);
}

export function isLive(m: Member): boolean {
  return m.state === 'alive' || m.state === 'suspect';
}
