import {
  ArgumentError,
  assertLength,
  assertU64,
  CERT_SLOT_BYTES,
  CERT_V1_BYTES,
  copyBytes,
  DecodeError,
  readU64LE,
  writeU64LE,
} from '@meshguard/core';
import {
  decodeGossipEntryAt,
  encodeGossipEntry,
  GOSSIP_ENTRY_BYTES,
  GOSSIP_EVENT_OFFSET,
  GOSSIP_LAMPORT_OFFSET,
  gossipEventFromCode,
  type GossipEntry,
} from './gossip-entry-codec.js';

/** SWIM datagram tags (spec §6.2). */
export const TAG_PING = 0x01;
export const TAG_PING_REQ = 0x02;
export const TAG_ACK = 0x03;

export const PING_MIN_BYTES = 50;
export const PING_REQ_BYTES = 73;
/** The reference never sends more, and its decoder never reads more (spec §6.5). */
export const MAX_GOSSIP_ENTRIES = 8;

const CERT_PRESENT = 0x01;

const OFF_SENDER = 1;
const OFF_SEQ = 33;
const OFF_INCARNATION = 41;
const OFF_COUNT = 49;
const OFF_ENTRIES = 50;

export interface ProbeFields {
  /** Claimed, unsigned (spec §16). */
  readonly senderPublicKey: Uint8Array;
  readonly seq: bigint;
  /** 0 = not advertised. */
  readonly incarnation: bigint;
  readonly gossip: readonly GossipEntry[];
  /**
   * The 314-byte certificate slot (spec §4.1), left undecoded: the certificate's version and
   * signature are the admission gate's business, and a bad certificate must not make the
   * Ping/Ack itself undecodable. Decode it with core's `decodeNodeCertificate`.
   */
  readonly certificate: Uint8Array | null;
}

export interface Ping extends ProbeFields {
  readonly kind: 'ping';
}

export interface Ack extends ProbeFields {
  readonly kind: 'ack';
}

export interface PingReq {
  readonly kind: 'ping-req';
  readonly senderPublicKey: Uint8Array;
  readonly targetPublicKey: Uint8Array;
  readonly seq: bigint;
}

export type SwimMessage = Ping | Ack | PingReq;

function encodeProbe(tag: number, m: ProbeFields): Uint8Array {
  return encodeProbeFields(tag, m, m.gossip.map(encodeGossipEntry));
}

function encodeProbeFields(tag: number, m: Omit<ProbeFields, 'gossip'>, gossip: readonly Uint8Array[]): Uint8Array {
  if (gossip.length > MAX_GOSSIP_ENTRIES) {
    throw new ArgumentError(`at most ${MAX_GOSSIP_ENTRIES} gossip entries per message, got ${gossip.length}`);
  }
  const certBytes = m.certificate === null ? 0 : 1 + CERT_SLOT_BYTES;
  const out = new Uint8Array(OFF_ENTRIES + GOSSIP_ENTRY_BYTES * gossip.length + certBytes);
  out[0] = tag;
  out.set(assertLength(m.senderPublicKey, 32, 'sender public key'), OFF_SENDER);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setBigUint64(OFF_SEQ, assertU64(m.seq, 'seq'), true);
  view.setBigUint64(OFF_INCARNATION, assertU64(m.incarnation, 'incarnation'), true);
  out[OFF_COUNT] = gossip.length;
  let offset = OFF_ENTRIES;
  for (const entry of gossip) {
    out.set(assertLength(entry, GOSSIP_ENTRY_BYTES, 'encoded gossip entry'), offset);
    offset += GOSSIP_ENTRY_BYTES;
  }
  if (m.certificate !== null) {
    // Senders always emit the full slot (spec §4.4); legacy 186-byte extensions are read-only.
    out[offset] = CERT_PRESENT;
    out.set(assertLength(m.certificate, CERT_SLOT_BYTES, 'certificate slot'), offset + 1);
  }
  return out;
}

/**
 * A Ping or Ack from gossip entries already encoded with `encodeGossipEntry` (115 bytes
 * each). The SWIM node encodes a rumour once and piggybacks it many times; the bytes are
 * the same as `encodeSwimMessage` would produce from the decoded entries.
 */
export function encodeProbeWithEncodedGossip(
  kind: 'ping' | 'ack',
  m: Omit<ProbeFields, 'gossip'>,
  gossip: readonly Uint8Array[],
): Uint8Array {
  return encodeProbeFields(kind === 'ping' ? TAG_PING : TAG_ACK, m, gossip);
}

export function encodeSwimMessage(m: SwimMessage): Uint8Array {
  switch (m.kind) {
    case 'ping':
      return encodeProbe(TAG_PING, m);
    case 'ack':
      return encodeProbe(TAG_ACK, m);
    case 'ping-req': {
      const out = new Uint8Array(PING_REQ_BYTES);
      out[0] = TAG_PING_REQ;
      out.set(assertLength(m.senderPublicKey, 32, 'sender public key'), 1);
      out.set(assertLength(m.targetPublicKey, 32, 'target public key'), 33);
      writeU64LE(out, 65, assertU64(m.seq, 'seq'));
      return out;
    }
  }
}

/**
 * The decoder rules of spec §6.5, which are deliberately forgiving: a short or corrupt gossip
 * list or certificate extension loses only that part, never the Ping/Ack, because the
 * reference still acts on such packets (liveness, seq, incarnation).
 */
function decodeProbe(bytes: Uint8Array, copyKeys: boolean): ProbeFields {
  if (bytes.length < PING_MIN_BYTES) {
    throw new DecodeError(`ping/ack: need at least ${PING_MIN_BYTES} bytes, got ${bytes.length}`);
  }
  const claimed = Math.min(bytes[OFF_COUNT]!, MAX_GOSSIP_ENTRIES);
  const gossip: GossipEntry[] = [];
  // One view for every 64-bit field of the datagram rather than one per field.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = OFF_ENTRIES;
  for (let i = 0; i < claimed; i++) {
    if (offset + GOSSIP_ENTRY_BYTES > bytes.length) break;
    if (gossipEventFromCode(bytes[offset + GOSSIP_EVENT_OFFSET]!) === null) break;
    gossip.push(decodeGossipEntryAt(bytes, offset, view.getBigUint64(offset + GOSSIP_LAMPORT_OFFSET, true), copyKeys));
    offset += GOSSIP_ENTRY_BYTES;
  }
  // The extension is looked for right after the last entry actually parsed, even when the
  // list stopped early — so garbage there can read as a certificate, exactly as in the reference.
  let certificate: Uint8Array | null = null;
  const remaining = bytes.length - offset - 1;
  if (bytes[offset] === CERT_PRESENT && remaining >= CERT_V1_BYTES) {
    certificate = new Uint8Array(CERT_SLOT_BYTES);
    certificate.set(bytes.subarray(offset + 1, offset + 1 + Math.min(remaining, CERT_SLOT_BYTES)));
  }
  return {
    senderPublicKey: copyBytes(bytes, OFF_SENDER, OFF_SENDER + 32),
    seq: view.getBigUint64(OFF_SEQ, true),
    incarnation: view.getBigUint64(OFF_INCARNATION, true),
    gossip,
    certificate,
  };
}

/** Tags 0x01, 0x02 and 0x03; everything else is a DecodeError. Trailing bytes are ignored. */
export function decodeSwimMessage(bytes: Uint8Array): SwimMessage {
  return decode(bytes, true);
}

/**
 * `decodeSwimMessage`, except that the gossip entries' keys (subject, WireGuard) are views of
 * `bytes`, valid only while it is: for the SWIM node, which copies the few keys it keeps and
 * would otherwise copy two keys for every one of the millions of entries a busy mesh sends it
 * — most of them news it already has. The sender key and the certificate are still copies.
 */
export function decodeSwimMessageTransient(bytes: Uint8Array): SwimMessage {
  return decode(bytes, false);
}

function decode(bytes: Uint8Array, copyKeys: boolean): SwimMessage {
  switch (bytes[0]) {
    case TAG_PING:
      return { kind: 'ping', ...decodeProbe(bytes, copyKeys) };
    case TAG_ACK:
      return { kind: 'ack', ...decodeProbe(bytes, copyKeys) };
    case TAG_PING_REQ:
      if (bytes.length < PING_REQ_BYTES) {
        throw new DecodeError(`ping-req: need at least ${PING_REQ_BYTES} bytes, got ${bytes.length}`);
      }
      return {
        kind: 'ping-req',
        senderPublicKey: copyBytes(bytes, 1, 33),
        targetPublicKey: copyBytes(bytes, 33, 65),
        seq: readU64LE(bytes, 65),
      };
    case undefined:
      throw new DecodeError('swim message: empty datagram');
    default:
      throw new DecodeError(`swim message: unknown tag 0x${bytes[0].toString(16).padStart(2, '0')}`);
  }
}
