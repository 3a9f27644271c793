import {
  deriveWireGuardKeyPair,
  encodeNodeCertificate,
  issueCertificate,
  TrustSet,
  type Ed25519KeyPair,
} from '@meshguard/core';
import { seededKeyPair } from '../../src/sim/mesh-builder.js';
import type { GossipEntry, GossipEvent } from '../../src/swim/gossip-entry-codec.js';
import { SeededRandom } from '../../src/swim/random-source.js';
import { ManualClock } from '../../src/swim/swim-clock.js';
import {
  decodeSwimMessage,
  encodeSwimMessage,
  type Ack,
  type Ping,
  type PingReq,
  type SwimMessage,
} from '../../src/swim/swim-codec.js';
import type { SwimConfig } from '../../src/swim/swim-config.js';
import type { SwimEvent } from '../../src/swim/swim-events.js';
import { SwimNode } from '../../src/swim/swim-node.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';

/** Unix ms at virtual time 0; certificates are issued a day before. */
export const EPOCH_MS = 1_750_000_000_000;
const ISSUED_AT = BigInt(EPOCH_MS / 1000 - 86_400);

/** A remote member as the tests play it: keys, certificate, address and its own seq counter. */
export interface Peer {
  readonly index: number;
  readonly keys: Ed25519KeyPair;
  readonly wgPublicKey: Uint8Array;
  readonly certificate: Uint8Array;
  readonly endpoint: UdpEndpoint;
  incarnation: bigint;
  restartEpoch: bigint;
  seq: bigint;
}

export interface Sent {
  readonly bytes: Uint8Array;
  readonly to: UdpEndpoint;
  /** Null for org messages and anything else the SWIM codec does not decode. */
  readonly message: SwimMessage | null;
}

/** `open-org`: open mode that also trusts the org, so certificates are still checked (and bind keys). */
export type TrustMode = 'org' | 'open' | 'open-org';

export interface HarnessOptions {
  readonly trust?: TrustMode;
  readonly config?: Partial<SwimConfig>;
  readonly seed?: number;
  /** Give the node under test a certificate (org trust). */
  readonly withCertificate?: boolean;
}

/**
 * One SwimNode under test with a manual clock, a seeded random source, and every datagram
 * and event it produces captured. Peers are scripted: the test decides what they send.
 */
export class Harness {
  readonly clock = new ManualClock(0, EPOCH_MS);
  readonly org: Ed25519KeyPair;
  readonly trust: TrustSet;
  readonly self: Peer;
  readonly node: SwimNode;
  sent: Sent[] = [];
  events: SwimEvent[] = [];
  readonly #keys: SeededRandom;
  readonly #peers: Peer[] = [];

  constructor(options: HarnessOptions = {}) {
    this.#keys = new SeededRandom(options.seed ?? 7);
    this.org = seededKeyPair(this.#keys);
    this.self = this.#makePeer(0);
    const mode = options.trust ?? 'org';
    this.trust = new TrustSet({
      self: this.self.keys.publicKey,
      trustedOrgs: mode === 'open' ? [] : [{ name: 'test', publicKey: this.org.publicKey }],
      open: mode !== 'org',
    });
    this.node = new SwimNode({
      identity: {
        publicKey: this.self.keys.publicKey,
        wgPublicKey: this.self.wgPublicKey,
        certificate: options.withCertificate === false ? null : this.self.certificate,
      },
      trust: this.trust,
      clock: this.clock,
      random: new SeededRandom((options.seed ?? 7) + 1),
      config: options.config ?? {},
      advertisedEndpoint: this.self.endpoint,
      incarnation: 100n,
      restartEpoch: BigInt(EPOCH_MS - 60_000) * 1_000_000n,
      send: (bytes, to) => {
        this.sent.push({ bytes, to, message: decodeOrNull(bytes) });
      },
      onEvent: (e) => this.events.push(e),
    });
  }

  /** Peer `i` (1-based; 0 is the node under test), created on first use. */
  peer(i: number): Peer {
    while (this.#peers.length < i) this.#peers.push(this.#makePeer(this.#peers.length + 1));
    return this.#peers[i - 1]!;
  }

  /** A key pair the org never certified. */
  stranger(): Peer {
    const keys = seededKeyPair(this.#keys);
    return { ...this.#makePeerFrom(keys, 9999), certificate: new Uint8Array(314) };
  }

  entry(subject: Peer, event: GossipEvent, lamport: bigint = subject.incarnation, withEndpoint = true): GossipEntry {
    return {
      subjectPublicKey: subject.keys.publicKey,
      event,
      lamport,
      endpoint: withEndpoint ? { family: 4, address: subject.endpoint.address, port: subject.endpoint.port } : null,
      wgPublicKey: event === 'alive' || event === 'join' ? subject.wgPublicKey : null,
      publicEndpoint: null,
      natType: 'unknown',
    };
  }

  /** The peer's own `alive` entry, as it advertises itself. */
  selfEntry(p: Peer): GossipEntry {
    return this.entry(p, 'alive', p.incarnation);
  }

  ping(from: Peer, gossip: readonly GossipEntry[] = [], options: MessageOptions = {}): bigint {
    const seq = options.seq ?? ++from.seq;
    this.#deliverProbe('ping', from, seq, gossip, options);
    return seq;
  }

  ack(from: Peer, seq: bigint, gossip: readonly GossipEntry[] = [], options: MessageOptions = {}): void {
    this.#deliverProbe('ack', from, seq, gossip, options);
  }

  #deliverProbe(
    kind: 'ping' | 'ack',
    from: Peer,
    seq: bigint,
    gossip: readonly GossipEntry[],
    options: MessageOptions,
  ): void {
    this.deliver(
      encodeSwimMessage({
        kind,
        senderPublicKey: from.keys.publicKey,
        seq,
        incarnation: options.restartEpoch ?? from.restartEpoch,
        gossip,
        certificate: options.certificate === false ? null : from.certificate,
      }),
      options.from ?? from.endpoint,
    );
  }

  pingReq(from: Peer, target: Peer, seq: bigint): void {
    this.deliver(
      encodeSwimMessage({
        kind: 'ping-req',
        senderPublicKey: from.keys.publicKey,
        targetPublicKey: target.keys.publicKey,
        seq,
      }),
      from.endpoint,
    );
  }

  deliver(bytes: Uint8Array, from: UdpEndpoint): void {
    this.node.handleDatagram(bytes, from);
  }

  /**
   * Makes the node know `peers`: each pings it once with its self entry, its certificate, and
   * an entry about the node (as an established member would, so no join push is triggered).
   */
  introduce(...peers: Peer[]): void {
    for (const p of peers) this.ping(p, [this.selfEntry(p), this.entry(this.self, 'alive', 0n)]);
  }

  /** Moves virtual time forward by `ms`, ticking the node at each of its deadlines on the way. */
  advance(ms: number): void {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      const next = this.node.nextDeadline();
      if (next > target) break;
      this.clock.set(Math.max(this.clock.nowMs(), next));
      this.node.tick();
    }
    this.clock.set(target);
  }

  /**
   * Advances `ms` in 10 ms steps, answering every Ping the node sends to one of `peers`
   * (unless `silent`) at once, as a live member would. Returns what was sent meanwhile.
   */
  advanceAnswering(ms: number, peers: readonly Peer[], silent: readonly Peer[] = []): Sent[] {
    const all: Sent[] = [];
    const end = this.clock.nowMs() + ms;
    while (this.clock.nowMs() < end) {
      this.advance(Math.min(10, end - this.clock.nowMs()));
      for (const s of this.takeSent()) {
        all.push(s);
        const m = s.message;
        if (m?.kind !== 'ping') continue;
        const p = peers.find((q) => q.endpoint.address === s.to.address && q.endpoint.port === s.to.port);
        if (p !== undefined && !silent.includes(p)) this.ack(p, m.seq);
      }
    }
    return all;
  }

  /** Drains captured datagrams. */
  takeSent(): Sent[] {
    const out = this.sent;
    this.sent = [];
    return out;
  }

  takeEvents(): SwimEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** Datagrams captured so far that went to `p` and decoded as `kind`. */
  sentTo<K extends SwimMessage['kind']>(p: Peer, kind: K): Array<Extract<SwimMessage, { kind: K }>> {
    return this.sent
      .filter((s) => s.to.address === p.endpoint.address && s.to.port === p.endpoint.port)
      .map((s) => s.message)
      .filter((m): m is Extract<SwimMessage, { kind: K }> => m !== null && m.kind === kind);
  }

  state(p: Peer): string | undefined {
    return this.node.member(p.keys.publicKey)?.state;
  }

  #makePeer(index: number): Peer {
    return this.#makePeerFrom(seededKeyPair(this.#keys), index);
  }

  #makePeerFrom(keys: Ed25519KeyPair, index: number): Peer {
    const wg = deriveWireGuardKeyPair(keys.seed);
    const certificate = encodeNodeCertificate(
      issueCertificate(this.org, {
        nodePublicKey: keys.publicKey,
        nodeName: `peer-${index}`,
        issuedAt: ISSUED_AT,
        expiresAt: 0n,
        wgPublicKey: wg.publicKey,
      }),
    );
    return {
      index,
      keys,
      wgPublicKey: wg.publicKey,
      certificate,
      endpoint: { address: `192.0.2.${(index % 250) + 1}`, port: 51821 + Math.floor(index / 250) },
      incarnation: 1000n + BigInt(index),
      restartEpoch: BigInt(EPOCH_MS - 120_000) * 1_000_000n,
      seq: 0n,
    };
  }
}

export interface MessageOptions {
  readonly seq?: bigint;
  readonly certificate?: boolean;
  readonly restartEpoch?: bigint;
  /** Source address, when it differs from the peer's usual one. */
  readonly from?: UdpEndpoint;
}

export type { Ack, Ping, PingReq };

/** Events of one type, typed. */
export function eventsOf<T extends SwimEvent['type']>(
  events: readonly SwimEvent[],
  type: T,
): Array<Extract<SwimEvent, { type: T }>> {
  return events.filter((e): e is Extract<SwimEvent, { type: T }> => e.type === type);
}

function decodeOrNull(bytes: Uint8Array): SwimMessage | null {
  try {
    return decodeSwimMessage(bytes);
  } catch {
    return null;
  }
}
