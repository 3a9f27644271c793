import { ArgumentError, assertLength, assertU64, copyBytes, DecodeError, readU64LE, writeU64LE } from '@meshguard/core';
import { natTypeCode, natTypeFromCode, type NatType } from '../nat/nat-type.js';
import { decodeEndpointAt, encodeEndpoint, type Endpoint } from './endpoint-codec.js';

/** One membership rumour piggybacked on Ping/Ack (spec §6.4). */
export const GOSSIP_ENTRY_BYTES = 115;

const OFF_SUBJECT = 0;
/** Where the event byte sits, for list decoders that must stop at a bad event (spec §6.5). */
export const GOSSIP_EVENT_OFFSET = 32;
const OFF_EVENT = GOSSIP_EVENT_OFFSET;
const OFF_LAMPORT = 33;
const OFF_ENDPOINT = 41;
const OFF_HAS_WG = 61;
const OFF_WG = 62;
const OFF_PUBLIC_ENDPOINT = 94;
const OFF_NAT = 114;

export type GossipEvent = 'join' | 'alive' | 'suspect' | 'dead' | 'leave';

const EVENT_CODES: Readonly<Record<GossipEvent, number>> = { join: 0, alive: 1, suspect: 2, dead: 3, leave: 4 };
const EVENTS: readonly GossipEvent[] = ['join', 'alive', 'suspect', 'dead', 'leave'];

export function gossipEventCode(event: GossipEvent): number {
  return EVENT_CODES[event];
}

/** `null` for codes outside 0-4; the Ping/Ack decoder stops reading entries there (spec §6.5). */
export function gossipEventFromCode(code: number): GossipEvent | null {
  return EVENTS[code] ?? null;
}

export interface GossipEntry {
  readonly subjectPublicKey: Uint8Array;
  readonly event: GossipEvent;
  readonly lamport: bigint;
  /** The subject's gossip address. */
  readonly endpoint: Endpoint | null;
  /** Present only when the has_wg byte is exactly 1. */
  readonly wgPublicKey: Uint8Array | null;
  /** STUN-derived address. */
  readonly publicEndpoint: Endpoint | null;
  readonly natType: NatType;
}

export function encodeGossipEntry(entry: GossipEntry): Uint8Array {
  const out = new Uint8Array(GOSSIP_ENTRY_BYTES);
  encodeGossipEntryInto(entry, out, 0);
  return out;
}

/**
 * The same 115 bytes written at `offset` of `out`, which must be zero there (a fresh or
 * cleared buffer): for callers that keep many entries in one buffer.
 */
export function encodeGossipEntryInto(entry: GossipEntry, out: Uint8Array, offset: number): void {
  if (offset < 0 || offset + GOSSIP_ENTRY_BYTES > out.length) {
    throw new ArgumentError(`gossip entry does not fit at offset ${offset} of ${out.length} bytes`);
  }
  out.set(assertLength(entry.subjectPublicKey, 32, 'gossip subject public key'), offset + OFF_SUBJECT);
  out[offset + OFF_EVENT] = gossipEventCode(entry.event);
  writeU64LE(out, offset + OFF_LAMPORT, assertU64(entry.lamport, 'gossip lamport'));
  out.set(encodeEndpoint(entry.endpoint), offset + OFF_ENDPOINT);
  if (entry.wgPublicKey !== null) {
    out[offset + OFF_HAS_WG] = 1;
    out.set(assertLength(entry.wgPublicKey, 32, 'gossip WireGuard public key'), offset + OFF_WG);
  }
  out.set(encodeEndpoint(entry.publicEndpoint), offset + OFF_PUBLIC_ENDPOINT);
  out[offset + OFF_NAT] = natTypeCode(entry.natType);
}

/** Exactly 115 bytes; an event code outside 0-4 is a DecodeError. */
export function decodeGossipEntry(bytes: Uint8Array): GossipEntry {
  if (bytes.length !== GOSSIP_ENTRY_BYTES) {
    throw new DecodeError(`gossip entry: expected ${GOSSIP_ENTRY_BYTES} bytes, got ${bytes.length}`);
  }
  const eventCode = bytes[OFF_EVENT]!;
  if (gossipEventFromCode(eventCode) === null) throw new DecodeError(`gossip entry: unknown event ${eventCode}`);
  return decodeGossipEntryAt(bytes, 0, readU64LE(bytes, OFF_LAMPORT));
}

/**
 * The entry at `offset` of a datagram whose bounds and event byte the caller has checked;
 * `lamport` is read by the caller, which can use one DataView for the whole datagram. Keys
 * are copied out (the datagram's buffer may be reused) unless `copyKeys` is false: then they
 * are views of `bytes`, for a caller that copies what it keeps (see decodeSwimMessageTransient).
 */
export function decodeGossipEntryAt(bytes: Uint8Array, offset: number, lamport: bigint, copyKeys = true): GossipEntry {
  const key = (start: number): Uint8Array =>
    copyKeys ? copyBytes(bytes, start, start + 32) : bytes.subarray(start, start + 32);
  return {
    subjectPublicKey: key(offset + OFF_SUBJECT),
    event: gossipEventFromCode(bytes[offset + OFF_EVENT]!)!,
    lamport,
    endpoint: decodeEndpointAt(bytes, offset + OFF_ENDPOINT),
    wgPublicKey: bytes[offset + OFF_HAS_WG] === 1 ? key(offset + OFF_WG) : null,
    publicEndpoint: decodeEndpointAt(bytes, offset + OFF_PUBLIC_ENDPOINT),
    natType: natTypeFromCode(bytes[offset + OFF_NAT]!),
  };
}

/** Where the lamport field sits in an entry, for decoders reading it themselves. */
export const GOSSIP_LAMPORT_OFFSET = OFF_LAMPORT;
