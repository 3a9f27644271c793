import { randomBytes } from 'node:crypto';
import { ArgumentError, bytesEqual, toHex } from '@meshguard/core';
import { openInto, sealInto } from './aead.js';
import { AllowedIps, formatIpPrefix } from './allowed-ips.js';
import {
  AEAD_TAG_BYTES,
  DEFAULT_LIMITS,
  MAX_STAGED_PACKETS,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  TRANSPORT_HEADER_BYTES,
  TRANSPORT_MIN_BYTES,
  ZERO_KEYS_AFTER_FACTOR,
  type ProtocolLimits,
} from './constants.js';
import { CookieChecker } from './cookie.js';
import { endpointBytes, type UdpEndpoint } from './endpoint.js';
import { Keypair } from './keypair.js';
import { checkMac1, writeMac1, writeMac2 } from './macs.js';
import {
  CookieReply,
  Initiation,
  messageType,
  readCounter,
  readU32LE,
  Response,
  Transport,
  writeCounter,
  writeU32LE,
} from './messages.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  localStatic,
  remoteStatic,
  type LocalStatic,
} from './noise-handshake.js';
import { Peer } from './peer.js';
import { SourceRateLimiter } from './rate-limiter.js';
import { compareTai64n, tai64n } from './tai64n.js';
import { generatePrivateKey } from './x25519.js';

/**
 * Where the device's output goes: the I/O adapter (UDP socket + TUN) or a test's fake network.
 * Packets are views into the device's reusable buffers, valid only during the call: a sink
 * sends or copies them before returning (both kernel interfaces do), which is what lets the
 * data path run without allocating per packet.
 */
export interface DeviceSink {
  sendUdp(packet: Uint8Array, to: UdpEndpoint): void;
  writeTun(packet: Uint8Array): void;
  /**
   * Inbound filter after decryption and the allowed-IPs check (the service policy): false drops
   * the packet as `policy-denied`. Absent: everything the allowed IPs admit is delivered.
   */
  admitInbound?(peer: Peer, packet: Uint8Array): boolean;
}

/** Monotonic time drives every timer; wall time only feeds TAI64N and `last handshake`. */
export interface Clock {
  now(): number;
  wallNow(): number;
}

export const systemClock: Clock = { now: () => performance.now(), wallNow: () => Date.now() };

export interface DeviceOptions {
  readonly privateKey: Uint8Array;
  readonly mtu?: number;
  readonly limits?: Partial<ProtocolLimits>;
  readonly clock?: Clock;
  readonly random?: (n: number) => Uint8Array;
  /**
   * Handshake messages per second above which the device is "under load" for a second and
   * demands valid MAC2 cookies (wireguard-go uses its queue depth; we have no queue).
   */
  readonly underLoadHandshakesPerSecond?: number;
  /** Per-source and global buckets checked before any X25519 work (spec §11.2). */
  readonly rateLimiter?: SourceRateLimiter;
}

export interface PeerConfig {
  readonly publicKey: Uint8Array;
  readonly presharedKey?: Uint8Array;
  readonly endpoint?: UdpEndpoint | null;
  readonly allowedIps?: readonly string[];
  readonly persistentKeepaliveSeconds?: number;
}

/**
 * Why a packet was dropped: transport messages, TUN packets and staged packets. Every reason
 * is counted in `WireGuardDevice.drops`, a record with one preallocated field per reason, so
 * the data path only increments a number.
 */
export const DROP_REASONS = [
  /** Not a WireGuard message of type 1–4, or a transport message too short or too long. */
  'malformed',
  /** Neither IPv4 nor IPv6 (from the TUN device, or inside a transport message). */
  'not-ip',
  /** No peer's allowed IPs cover the destination. */
  'no-route',
  /** The peer has no endpoint to send to. */
  'no-endpoint',
  /** A transport message for a receiver index we do not have (no such session). */
  'unknown-index',
  /** A counter seen before, or older than the 2048-counter replay window. */
  'replay',
  /** A counter at or past REJECT_AFTER_MESSAGES. */
  'counter-limit',
  /** The session is older than REJECT_AFTER_TIME. */
  'expired-keypair',
  /** The AEAD tag did not verify (forged, corrupted, or for another key). */
  'decrypt-failed',
  /** The inner source address is not one of the sending peer's allowed IPs. */
  'inner-source-mismatch',
  /** The service policy (services/) refused the inbound packet. */
  'policy-denied',
  /** The per-peer queue held while a handshake is under way was full: its oldest packet went. */
  'staged-overflow',
  /** Queued packets discarded when the handshake was given up (REKEY_ATTEMPT_TIME). */
  'handshake-gave-up',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Why a handshake message was refused, or a handshake given up: the reasons of
 * `WireGuardDevice.handshakeFailures`.
 */
export const HANDSHAKE_FAILURES = [
  /** An initiation, response or cookie reply of the wrong length. */
  'malformed',
  /** MAC1 does not match our public key: not meant for us, or corrupted. Costs us one hash. */
  'bad-mac1',
  /** Under load and without a valid MAC2: answered with a cookie reply instead of a handshake. */
  'cookie-required',
  /** Over the per-source or global initiation budget (checked before any Diffie-Hellman). */
  'rate-limited',
  /** The initiator's static key is not one of our peers (in the mesh: not admitted by trust). */
  'unknown-key',
  /** Noise authentication failed: a field did not decrypt, or a Diffie-Hellman result was zero. */
  'decrypt-failed',
  /** The initiation's TAI64N timestamp is not newer than the last one accepted (a replay). */
  'stale-timestamp',
  /** A second initiation from the same peer within 50 ms. */
  'initiation-flood',
  /** A response or cookie reply that answers no initiation of ours in flight. */
  'unexpected-response',
  /** A cookie reply that does not decrypt or does not answer our last message. */
  'bad-cookie',
  /** The peer's configured public key is a low-order point: no handshake is possible. */
  'bad-peer-key',
  /** No response within REKEY_ATTEMPT_TIME: the initiator gave up until traffic asks again. */
  'timeout',
] as const;

export type HandshakeFailure = (typeof HANDSHAKE_FAILURES)[number];

/** Cumulative device-wide counters; unlike the per-peer ones they survive a peer's removal. */
export interface DeviceStats {
  /** Every authenticated WireGuard datagram received (handshakes and transport), in bytes. */
  rxBytes: number;
  /** Every WireGuard datagram sent, in bytes. */
  txBytes: number;
  /** Handshakes that produced a session in use (either role). */
  handshakesCompleted: number;
  /** Initiations sent, retransmissions included. */
  initiationsSent: number;
}

/**
 * A peer's tunnel as an operator sees it: `established` with a session usable for sending,
 * `connecting` while a handshake is under way (ours in flight, or theirs awaiting its first
 * packet), `stale` otherwise — never handshaken, expired, or given up.
 */
export type WireGuardPeerState = 'established' | 'connecting' | 'stale';

export const WIREGUARD_PEER_STATES: readonly WireGuardPeerState[] = ['established', 'connecting', 'stale'];

interface IndexEntry {
  readonly peer: Peer;
  /** Null while the index names an initiation in flight rather than a session. */
  readonly keypair: Keypair | null;
}

const EMPTY = new Uint8Array(0);
const PADDING_MULTIPLE = 16;

/**
 * A WireGuard device as a sans-I/O state machine (whitepaper §5–6, wireguard-go's device/):
 * datagrams, TUN packets and time go in; datagrams, TUN packets and timer deadlines come out.
 * It never touches a socket or a clock of its own, which is what makes it testable with a
 * fake network and a fake clock, and reusable under the mesh daemon.
 */
export class WireGuardDevice {
  readonly limits: ProtocolLimits;
  readonly mtu: number;
  /** Packets dropped, by reason (one preallocated field per reason). */
  readonly drops: Record<DropReason, number> = zeroRecord(DROP_REASONS);
  /** Handshake messages refused and handshakes given up, by reason. */
  readonly handshakeFailures: Record<HandshakeFailure, number> = zeroRecord(HANDSHAKE_FAILURES);
  readonly stats: DeviceStats = { rxBytes: 0, txBytes: 0, handshakesCompleted: 0, initiationsSent: 0 };
  readonly #sink: DeviceSink;
  readonly #clock: Clock;
  readonly #random: (n: number) => Uint8Array;
  #local: LocalStatic;
  #cookieChecker: CookieChecker;
  readonly #rateLimiter: SourceRateLimiter;
  readonly #peers = new Map<string, Peer>();
  readonly #allowedIps = new AllowedIps<Peer>();
  readonly #indices = new Map<number, IndexEntry>();
  readonly #underLoadThreshold: number;
  #handshakeWindowStart = 0;
  #handshakesInWindow = 0;
  #underLoadUntil = -Infinity;
  /** Transport messages are assembled and sealed in place here; see DeviceSink. */
  readonly #txScratch = new Uint8Array(TRANSPORT_HEADER_BYTES + 65536 + AEAD_TAG_BYTES);
  /** Decrypted packets land here on their way to the TUN device. */
  readonly #rxScratch = new Uint8Array(65536);

  constructor(options: DeviceOptions, sink: DeviceSink) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.mtu = options.mtu ?? 1420;
    this.#sink = sink;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? ((n) => new Uint8Array(randomBytes(n)));
    this.#local = localStatic(options.privateKey);
    this.#cookieChecker = new CookieChecker(this.#local.macKeys, this.#clock.now(), this.#random);
    this.#rateLimiter = options.rateLimiter ?? new SourceRateLimiter();
    this.#underLoadThreshold = options.underLoadHandshakesPerSecond ?? 128;
  }

  get publicKey(): Uint8Array {
    return this.#local.privateKey.publicKey;
  }

  get privateKey(): Uint8Array {
    return this.#local.privateKey.raw;
  }

  /** Replaces the static key; every peer's sessions end since they were keyed with the old one. */
  setPrivateKey(privateKey: Uint8Array): void {
    this.#local = localStatic(privateKey);
    this.#cookieChecker = new CookieChecker(this.#local.macKeys, this.#clock.now(), this.#random);
    for (const peer of [...this.#peers.values()]) {
      const config = this.peerConfig(peer);
      this.removePeer(peer.remote.publicKey);
      this.addPeer(config);
    }
  }

  peers(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  peer(publicKey: Uint8Array): Peer | undefined {
    return this.#peers.get(toHex(publicKey));
  }

  allowedIpsOf(peer: Peer): string[] {
    return this.#allowedIps.prefixesOf(peer).map(formatIpPrefix);
  }

  peerConfig(peer: Peer): PeerConfig {
    return {
      publicKey: peer.remote.publicKey,
      presharedKey: peer.remote.presharedKey,
      endpoint: peer.endpoint,
      allowedIps: this.allowedIpsOf(peer),
      persistentKeepaliveSeconds: peer.persistentKeepaliveMs / 1000,
    };
  }

  /** Adds a peer, or updates one in place (keeping its sessions) when the key is known. */
  addPeer(config: PeerConfig): Peer {
    if (bytesEqual(config.publicKey, this.publicKey)) throw new ArgumentError('a peer cannot have our own public key');
    const keepaliveMs = Math.round((config.persistentKeepaliveSeconds ?? 0) * 1000);
    let peer = this.peer(config.publicKey);
    if (
      peer === undefined ||
      (config.presharedKey !== undefined && !bytesEqual(config.presharedKey, peer.remote.presharedKey))
    ) {
      if (peer !== undefined) this.removePeer(config.publicKey);
      peer = new Peer(
        remoteStatic(this.#local, config.publicKey, config.presharedKey),
        config.endpoint ?? null,
        keepaliveMs,
      );
      this.#peers.set(toHex(config.publicKey), peer);
    } else {
      if (config.endpoint !== undefined) peer.endpoint = config.endpoint;
      peer.persistentKeepaliveMs = keepaliveMs;
    }
    if (config.allowedIps !== undefined) {
      this.#allowedIps.removeValue(peer);
      for (const cidr of config.allowedIps) this.#allowedIps.insert(cidr, peer);
    }
    if (keepaliveMs > 0 && peer.endpoint !== null) this.#sendKeepalive(peer);
    return peer;
  }

  /** Removes a peer and wipes its key material. */
  removePeer(publicKey: Uint8Array): boolean {
    const peer = this.peer(publicKey);
    if (peer === undefined) return false;
    this.#allowedIps.removeValue(peer);
    this.#clearSessions(peer);
    peer.staged.length = 0;
    peer.remote.presharedKey.fill(0);
    peer.remote.staticStatic?.fill(0);
    this.#peers.delete(toHex(publicKey));
    return true;
  }

  // ---------------------------------------------------------------- inbound UDP

  /** One datagram of WireGuard type 1–4 from `from`. Anything else is counted and dropped. */
  handleDatagram(data: Uint8Array, from: UdpEndpoint): void {
    switch (messageType(data)) {
      case MESSAGE_TRANSPORT:
        this.#receiveTransport(data, from);
        return;
      case MESSAGE_INITIATION:
        this.#receiveInitiation(data, from);
        return;
      case MESSAGE_RESPONSE:
        this.#receiveResponse(data, from);
        return;
      case MESSAGE_COOKIE_REPLY:
        this.#receiveCookieReply(data);
        return;
      default:
        this.#drop('malformed');
    }
  }

  #receiveTransport(data: Uint8Array, from: UdpEndpoint): void {
    if (data.length < TRANSPORT_MIN_BYTES) return this.#drop('malformed');
    const entry = this.#indices.get(readU32LE(data, Transport.receiverIndex));
    if (entry?.keypair === null || entry === undefined) return this.#drop('unknown-index');
    const { peer, keypair } = entry;
    const counter = readCounter(data, Transport.counter);
    if (counter < 0 || counter >= this.limits.rejectAfterMessages) return this.#drop('counter-limit');
    const now = this.#clock.now();
    if (now - keypair.createdAt >= this.limits.rejectAfterTimeMs) return this.#drop('expired-keypair');
    // Cheap check first; the authoritative mark happens only after authentication.
    if (!keypair.replay.wouldAccept(counter)) return this.#drop('replay');
    const sealed = data.subarray(Transport.payload);
    if (sealed.length - AEAD_TAG_BYTES > this.#rxScratch.length) return this.#drop('malformed');
    const plaintextLength = openInto(keypair.receiveKey, counter, sealed, null, this.#rxScratch, 0);
    if (plaintextLength < 0) return this.#drop('decrypt-failed');
    const plaintext = this.#rxScratch.subarray(0, plaintextLength);
    if (!keypair.replay.accept(counter)) return this.#drop('replay');

    peer.endpoint = from;
    peer.stats.rxBytes += data.length;
    this.stats.rxBytes += data.length;
    const confirmed = peer.keypairs.confirmNext(keypair);
    if (confirmed.rotated) {
      if (confirmed.retired !== null) this.#retire(confirmed.retired);
      this.#timersHandshakeComplete(peer);
      this.#sendStaged(peer);
    }
    this.#keepKeyFreshReceiving(peer);
    this.#timersAnyAuthenticatedPacketTraversal(peer);
    peer.timers.newHandshake = null; // any authenticated packet received
    if (plaintext.length === 0) return; // keepalive
    this.#timersDataReceived(peer);
    this.#deliver(peer, plaintext);
  }

  /** Inner packet checks: an IP packet whose source the peer is allowed to use (cryptokey routing). */
  #deliver(peer: Peer, plaintext: Uint8Array): void {
    const version = plaintext[0]! >> 4;
    let length: number;
    let owner: Peer | undefined;
    if (version === 4 && plaintext.length >= 20) {
      length = (plaintext[2]! << 8) | plaintext[3]!;
      if (length < 20 || length > plaintext.length) return this.#drop('malformed');
      owner = this.#allowedIps.lookupIPv4At(plaintext, 12);
    } else if (version === 6 && plaintext.length >= 40) {
      length = 40 + ((plaintext[4]! << 8) | plaintext[5]!);
      if (length > plaintext.length) return this.#drop('malformed');
      owner = this.#allowedIps.lookupIPv6At(plaintext, 8);
    } else {
      return this.#drop('not-ip');
    }
    if (owner !== peer) return this.#drop('inner-source-mismatch');
    const packet = plaintext.subarray(0, length);
    if (this.#sink.admitInbound !== undefined && !this.#sink.admitInbound(peer, packet)) {
      return this.#drop('policy-denied');
    }
    this.#sink.writeTun(packet);
  }

  /**
   * MAC1, then (under load) MAC2 or a cookie reply, then the per-source rate limit — all
   * before any Diffie-Hellman, so a flood costs us hashes, not scalar multiplications.
   */
  #admitHandshake(
    data: Uint8Array,
    mac1Offset: number,
    mac2Offset: number,
    senderIndex: number,
    from: UdpEndpoint,
  ): boolean {
    if (!checkMac1(data, mac1Offset, this.#local.macKeys)) {
      this.#fail('bad-mac1');
      return false;
    }
    const now = this.#clock.now();
    if (now - this.#handshakeWindowStart >= 1000) {
      this.#handshakeWindowStart = now;
      this.#handshakesInWindow = 0;
    }
    if (++this.#handshakesInWindow > this.#underLoadThreshold) this.#underLoadUntil = now + 1000;
    if (now < this.#underLoadUntil) {
      const source = endpointBytes(from);
      if (!this.#cookieChecker.checkMac2(data, mac2Offset, source, now)) {
        this.#sink.sendUdp(this.#cookieChecker.createReply(data, mac1Offset, senderIndex, source, now), from);
        this.#fail('cookie-required');
        return false;
      }
    }
    if (!this.#rateLimiter.allow(from.address, now)) {
      this.#fail('rate-limited');
      return false;
    }
    return true;
  }

  #receiveInitiation(data: Uint8Array, from: UdpEndpoint): void {
    if (data.length !== Initiation.bytes) return this.#fail('malformed');
    const senderIndex = readU32LE(data, Initiation.senderIndex);
    if (!this.#admitHandshake(data, Initiation.mac1, Initiation.mac2, senderIndex, from)) return;
    const consumed = consumeInitiation(this.#local, data, (key) => this.peer(key)?.remote);
    if (typeof consumed === 'string') return this.#fail(consumed);
    const peer = this.peer(consumed.remote.publicKey)!;
    const now = this.#clock.now();
    if (peer.lastAcceptedTimestamp !== null && compareTai64n(consumed.timestamp, peer.lastAcceptedTimestamp) <= 0) {
      return this.#fail('stale-timestamp');
    }
    if (now - peer.lastInitiationConsumedAt <= this.limits.handshakeInitiationRateMs) {
      return this.#fail('initiation-flood');
    }
    peer.lastAcceptedTimestamp = consumed.timestamp;
    peer.lastInitiationConsumedAt = now;
    peer.stats.rxBytes += data.length;
    this.stats.rxBytes += data.length;

    const localIndex = this.#allocateIndex();
    const response = createResponse(consumed, localIndex, generatePrivateKey(this.#random));
    if (response === null) return this.#fail('decrypt-failed');
    this.#dropInitiation(peer);
    const keypair = new Keypair(response.keys, localIndex, consumed.remoteIndex, now, false);
    this.#indices.set(localIndex, { peer, keypair });
    for (const retired of peer.keypairs.install(keypair)) this.#retire(retired);
    peer.endpoint = from;
    this.#addMacs(peer, response.message, Response.mac1, Response.mac2);
    this.#send(peer, response.message);
    peer.timers.zeroKeyMaterial = now + this.limits.rejectAfterTimeMs * ZERO_KEYS_AFTER_FACTOR;
    this.#timersAnyAuthenticatedPacketTraversal(peer);
    peer.timers.sendKeepalive = null; // any authenticated packet sent
  }

  #receiveResponse(data: Uint8Array, from: UdpEndpoint): void {
    if (data.length !== Response.bytes) return this.#fail('malformed');
    const senderIndex = readU32LE(data, Response.senderIndex);
    if (!this.#admitHandshake(data, Response.mac1, Response.mac2, senderIndex, from)) return;
    const localIndex = readU32LE(data, Response.receiverIndex);
    const entry = this.#indices.get(localIndex);
    const initiation = entry?.peer.initiation;
    if (entry === undefined || entry.keypair !== null || initiation?.localIndex !== localIndex) {
      return this.#fail('unexpected-response');
    }
    const { peer } = entry;
    const keys = consumeResponse(this.#local, peer.remote, initiation, data);
    if (keys === null) return this.#fail('decrypt-failed');
    const now = this.#clock.now();
    peer.initiation = null;
    const keypair = new Keypair(keys, localIndex, senderIndex, now, true);
    this.#indices.set(localIndex, { peer, keypair });
    for (const retired of peer.keypairs.install(keypair)) this.#retire(retired);
    peer.endpoint = from;
    peer.stats.rxBytes += data.length;
    this.stats.rxBytes += data.length;
    peer.timers.zeroKeyMaterial = now + this.limits.rejectAfterTimeMs * ZERO_KEYS_AFTER_FACTOR;
    this.#timersHandshakeComplete(peer);
    this.#timersAnyAuthenticatedPacketTraversal(peer);
    peer.timers.newHandshake = null;
    // The responder waits for our first packet before using the session: confirm it now.
    this.#sendKeepalive(peer);
  }

  #receiveCookieReply(data: Uint8Array): void {
    if (data.length !== CookieReply.bytes) return this.#fail('malformed');
    const entry = this.#indices.get(readU32LE(data, CookieReply.receiverIndex));
    if (entry === undefined) return this.#fail('unexpected-response');
    if (!entry.peer.cookies.consumeReply(data, entry.peer.remote.macKeys, this.#clock.now())) this.#fail('bad-cookie');
  }

  // ---------------------------------------------------------------- outbound TUN

  /** One IP packet read from the TUN device, routed by destination to its peer. */
  handleTunPacket(packet: Uint8Array): void {
    const version = packet.length > 0 ? packet[0]! >> 4 : 0;
    let peer: Peer | undefined;
    if (version === 4 && packet.length >= 20) peer = this.#allowedIps.lookupIPv4At(packet, 16);
    else if (version === 6 && packet.length >= 40) peer = this.#allowedIps.lookupIPv6At(packet, 24);
    else return this.#drop('not-ip');
    if (peer === undefined) return this.#drop('no-route');
    const keypair = peer.keypairs.current;
    const now = this.#clock.now();
    if (peer.staged.length === 0 && peer.endpoint !== null && this.#canSendWith(keypair, now)) {
      // The common case: a live session and nothing queued — seal straight from the TUN slot.
      this.#send(peer, this.#encrypt(keypair, packet));
      this.#afterDataSent(peer, keypair, now, packet.length > 0);
      return;
    }
    this.#stage(peer, packet);
    this.#sendStaged(peer);
  }

  #stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= MAX_STAGED_PACKETS) {
      peer.staged.shift();
      this.#drop('staged-overflow');
    }
    // The caller's buffer (a TUN batch slot) is reused after this call returns.
    peer.staged.push(packet.length === 0 ? EMPTY : Uint8Array.from(packet));
  }

  #canSendWith(keypair: Keypair | null, now: number): keypair is Keypair {
    return (
      keypair !== null &&
      now - keypair.createdAt < this.limits.rejectAfterTimeMs &&
      keypair.sendCounter < this.limits.rejectAfterMessages
    );
  }

  #sendStaged(peer: Peer): void {
    if (peer.staged.length === 0) return;
    const now = this.#clock.now();
    const keypair = peer.keypairs.current;
    if (!this.#canSendWith(keypair, now)) {
      this.#sendInitiation(peer, false);
      return;
    }
    if (peer.endpoint === null) {
      this.#drop('no-endpoint');
      return;
    }
    let sentData = false;
    for (const packet of peer.staged.splice(0)) {
      this.#send(peer, this.#encrypt(keypair, packet));
      sentData ||= packet.length > 0;
    }
    this.#afterDataSent(peer, keypair, now, sentData);
  }

  #afterDataSent(peer: Peer, keypair: Keypair, now: number, sentData: boolean): void {
    this.#timersAnyAuthenticatedPacketTraversal(peer);
    peer.timers.sendKeepalive = null;
    if (sentData && peer.timers.newHandshake === null) {
      peer.timers.newHandshake = now + this.limits.keepaliveTimeoutMs + this.limits.rekeyTimeoutMs;
    }
    this.#keepKeyFreshSending(peer, keypair, now);
  }

  /**
   * Pads to a multiple of 16 (capped at the MTU) and seals under the next counter, in place
   * in the transmit scratch buffer: one copy of the packet, no allocation.
   */
  #encrypt(keypair: Keypair, packet: Uint8Array): Uint8Array {
    let last = packet.length;
    if (last > this.mtu) last %= this.mtu;
    const padded = Math.min((last + PADDING_MULTIPLE - 1) & ~(PADDING_MULTIPLE - 1), Math.max(this.mtu, last));
    const plaintextLength = packet.length + (padded - last);
    const out = this.#txScratch;
    out.set(packet, TRANSPORT_HEADER_BYTES);
    out.fill(0, TRANSPORT_HEADER_BYTES + packet.length, TRANSPORT_HEADER_BYTES + plaintextLength);
    out[0] = MESSAGE_TRANSPORT;
    out[1] = out[2] = out[3] = 0;
    writeU32LE(out, Transport.receiverIndex, keypair.remoteIndex);
    const counter = keypair.sendCounter++;
    writeCounter(out, Transport.counter, counter);
    const plaintext = out.subarray(TRANSPORT_HEADER_BYTES, TRANSPORT_HEADER_BYTES + plaintextLength);
    const sealed = sealInto(keypair.sendKey, counter, plaintext, null, out, TRANSPORT_HEADER_BYTES);
    return out.subarray(0, TRANSPORT_HEADER_BYTES + sealed);
  }

  #send(peer: Peer, packet: Uint8Array): void {
    if (peer.endpoint === null) return this.#drop('no-endpoint');
    peer.stats.txBytes += packet.length;
    this.stats.txBytes += packet.length;
    this.#sink.sendUdp(packet, peer.endpoint);
  }

  #sendKeepalive(peer: Peer): void {
    if (peer.staged.length === 0) peer.staged.push(EMPTY);
    this.#sendStaged(peer);
  }

  // ---------------------------------------------------------------- handshakes

  /** Starts a handshake now unless one was sent less than REKEY_TIMEOUT ago. */
  initiateHandshake(publicKey: Uint8Array): void {
    const peer = this.peer(publicKey);
    if (peer !== undefined) this.#sendInitiation(peer, false);
  }

  #sendInitiation(peer: Peer, isRetry: boolean): void {
    const now = this.#clock.now();
    if (!isRetry) peer.handshakeAttempts = 0;
    if (now - peer.lastInitiationSentAt < this.limits.rekeyTimeoutMs) return;
    if (peer.endpoint === null) return this.#drop('no-endpoint');
    peer.lastInitiationSentAt = now;
    this.#dropInitiation(peer);
    const localIndex = this.#allocateIndex();
    const created = createInitiation(
      this.#local,
      peer.remote,
      localIndex,
      tai64n(this.#clock.wallNow()),
      generatePrivateKey(this.#random),
    );
    if (created === null) return this.#fail('bad-peer-key');
    peer.initiation = created.state;
    this.#indices.set(localIndex, { peer, keypair: null });
    this.#addMacs(peer, created.message, Initiation.mac1, Initiation.mac2);
    this.#timersAnyAuthenticatedPacketTraversal(peer);
    peer.timers.sendKeepalive = null;
    this.#send(peer, created.message);
    this.stats.initiationsSent++;
    const jitter = this.#random(2);
    const jitterMs = (((jitter[0]! << 8) | jitter[1]!) / 65536) * this.limits.rekeyTimeoutJitterMaxMs;
    peer.timers.retransmitHandshake = now + this.limits.rekeyTimeoutMs + jitterMs;
  }

  #addMacs(peer: Peer, message: Uint8Array, mac1Offset: number, mac2Offset: number): void {
    peer.cookies.rememberMac1(writeMac1(message, mac1Offset, peer.remote.macKeys));
    writeMac2(message, mac2Offset, peer.cookies.current(this.#clock.now(), this.limits.cookieRefreshTimeMs));
  }

  #dropInitiation(peer: Peer): void {
    if (peer.initiation !== null) {
      this.#indices.delete(peer.initiation.localIndex);
      peer.initiation.ephemeral.raw.fill(0);
      peer.initiation = null;
    }
  }

  #keepKeyFreshSending(peer: Peer, keypair: Keypair, now: number): void {
    if (
      keypair.isInitiator &&
      (keypair.sendCounter > this.limits.rekeyAfterMessages || now - keypair.createdAt > this.limits.rekeyAfterTimeMs)
    ) {
      this.#sendInitiation(peer, false);
    }
  }

  #keepKeyFreshReceiving(peer: Peer): void {
    const keypair = peer.keypairs.current;
    if (keypair === null || !keypair.isInitiator || peer.sentLastMinuteHandshake) return;
    const threshold = this.limits.rejectAfterTimeMs - this.limits.keepaliveTimeoutMs - this.limits.rekeyTimeoutMs;
    if (this.#clock.now() - keypair.createdAt > threshold) {
      peer.sentLastMinuteHandshake = true;
      this.#sendInitiation(peer, false);
    }
  }

  #allocateIndex(): number {
    for (;;) {
      const b = this.#random(4);
      const index = readU32LE(b, 0);
      if (!this.#indices.has(index)) return index;
    }
  }

  #retire(keypair: Keypair): void {
    this.#indices.delete(keypair.localIndex);
    keypair.zero();
  }

  #clearSessions(peer: Peer): void {
    for (const keypair of peer.keypairs.clear()) this.#retire(keypair);
    this.#dropInitiation(peer);
    for (const key of Object.keys(peer.timers) as Array<keyof Peer['timers']>) peer.timers[key] = null;
  }

  // ---------------------------------------------------------------- timers

  #timersAnyAuthenticatedPacketTraversal(peer: Peer): void {
    if (peer.persistentKeepaliveMs > 0)
      peer.timers.persistentKeepalive = this.#clock.now() + peer.persistentKeepaliveMs;
  }

  #timersDataReceived(peer: Peer): void {
    if (peer.timers.sendKeepalive === null) {
      peer.timers.sendKeepalive = this.#clock.now() + this.limits.keepaliveTimeoutMs;
    } else {
      peer.needAnotherKeepalive = true;
    }
  }

  #timersHandshakeComplete(peer: Peer): void {
    peer.timers.retransmitHandshake = null;
    peer.handshakeAttempts = 0;
    peer.sentLastMinuteHandshake = false;
    peer.stats.lastHandshakeWallMs = this.#clock.wallNow();
    peer.stats.handshakesCompleted++;
    this.stats.handshakesCompleted++;
  }

  /** The earliest armed timer of any peer (monotonic ms), for the adapter's setTimeout. */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const { timers: t } of this.#peers.values()) {
      for (const deadline of [
        t.retransmitHandshake,
        t.sendKeepalive,
        t.newHandshake,
        t.zeroKeyMaterial,
        t.persistentKeepalive,
      ]) {
        if (deadline !== null && (next === null || deadline < next)) next = deadline;
      }
    }
    return next;
  }

  /** Fires every timer that is due. */
  tick(): void {
    const now = this.#clock.now();
    for (const peer of [...this.#peers.values()]) {
      const t = peer.timers;
      if (t.retransmitHandshake !== null && t.retransmitHandshake <= now) {
        t.retransmitHandshake = null;
        this.#expiredRetransmitHandshake(peer, now);
      }
      if (t.sendKeepalive !== null && t.sendKeepalive <= now) {
        t.sendKeepalive = null;
        this.#sendKeepalive(peer);
        if (peer.needAnotherKeepalive) {
          peer.needAnotherKeepalive = false;
          t.sendKeepalive = now + this.limits.keepaliveTimeoutMs;
        }
      }
      if (t.newHandshake !== null && t.newHandshake <= now) {
        t.newHandshake = null;
        this.#sendInitiation(peer, false);
      }
      if (t.zeroKeyMaterial !== null && t.zeroKeyMaterial <= now) {
        t.zeroKeyMaterial = null;
        for (const keypair of peer.keypairs.clear()) this.#retire(keypair);
        this.#dropInitiation(peer);
      }
      if (t.persistentKeepalive !== null && t.persistentKeepalive <= now) {
        t.persistentKeepalive = null;
        if (peer.persistentKeepaliveMs > 0) this.#sendKeepalive(peer);
      }
    }
  }

  #expiredRetransmitHandshake(peer: Peer, now: number): void {
    const maxAttempts = Math.floor(this.limits.rekeyAttemptTimeMs / this.limits.rekeyTimeoutMs);
    if (peer.handshakeAttempts > maxAttempts) {
      // REKEY_ATTEMPT_TIME is over: give up until new traffic asks for a handshake again.
      peer.timers.sendKeepalive = null;
      this.#fail('timeout');
      this.#drop('handshake-gave-up', peer.staged.length);
      peer.staged.length = 0;
      this.#dropInitiation(peer);
      peer.timers.zeroKeyMaterial ??= now + this.limits.rejectAfterTimeMs * ZERO_KEYS_AFTER_FACTOR;
      return;
    }
    peer.handshakeAttempts++;
    this.#sendInitiation(peer, true);
  }

  /** How the peer's tunnel stands now (see WireGuardPeerState). */
  peerState(peer: Peer): WireGuardPeerState {
    const current = peer.keypairs.current;
    if (current !== null && this.#clock.now() - current.createdAt < this.limits.rejectAfterTimeMs) return 'established';
    if (peer.initiation !== null || peer.keypairs.next !== null) return 'connecting';
    return 'stale';
  }

  /** Peers by state, for metrics (read at scrape time, not kept up to date on the data path). */
  peerStates(): Record<WireGuardPeerState, number> {
    const counts: Record<WireGuardPeerState, number> = { established: 0, connecting: 0, stale: 0 };
    for (const peer of this.#peers.values()) counts[this.peerState(peer)]++;
    return counts;
  }

  // Both are plain increments of a preallocated field: they run once per dropped packet.
  #drop(reason: DropReason, count = 1): void {
    this.drops[reason] += count;
  }

  #fail(reason: HandshakeFailure): void {
    this.handshakeFailures[reason]++;
  }
}

function zeroRecord<K extends string>(keys: readonly K[]): Record<K, number> {
  const record = {} as Record<K, number>;
  for (const key of keys) record[key] = 0;
  return record;
}
