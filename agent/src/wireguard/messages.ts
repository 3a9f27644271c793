import {
  COOKIE_REPLY_BYTES,
  INITIATION_BYTES,
  MAC_BYTES,
  RESPONSE_BYTES,
  TRANSPORT_HEADER_BYTES,
} from './constants.js';

/**
 * Byte offsets of WireGuard's four message types (whitepaper §5.4). Messages are handled as
 * byte arrays in place rather than decoded into objects: the transport path touches only the
 * header fields it needs, and handshake messages are authenticated over their raw bytes.
 */
export const Initiation = {
  senderIndex: 4,
  ephemeral: 8,
  encryptedStatic: 40,
  encryptedStaticBytes: 48,
  encryptedTimestamp: 88,
  encryptedTimestampBytes: 28,
  mac1: 116,
  mac2: 132,
  bytes: INITIATION_BYTES,
} as const;

export const Response = {
  senderIndex: 4,
  receiverIndex: 8,
  ephemeral: 12,
  encryptedNothing: 44,
  encryptedNothingBytes: 16,
  mac1: 60,
  mac2: 76,
  bytes: RESPONSE_BYTES,
} as const;

export const CookieReply = {
  receiverIndex: 4,
  nonce: 8,
  nonceBytes: 24,
  encryptedCookie: 32,
  encryptedCookieBytes: 32,
  bytes: COOKIE_REPLY_BYTES,
} as const;

export const Transport = {
  receiverIndex: 4,
  counter: 8,
  payload: TRANSPORT_HEADER_BYTES,
} as const;

export function readU32LE(b: Uint8Array, offset: number): number {
  return (b[offset]! | (b[offset + 1]! << 8) | (b[offset + 2]! << 16) | (b[offset + 3]! << 24)) >>> 0;
}

export function writeU32LE(b: Uint8Array, offset: number, value: number): void {
  b[offset] = value & 0xff;
  b[offset + 1] = (value >>> 8) & 0xff;
  b[offset + 2] = (value >>> 16) & 0xff;
  b[offset + 3] = (value >>> 24) & 0xff;
}

/**
 * The transport counter as a JS number, or -1 when it is at or above 2^53 — beyond any
 * limit we accept (constants.ts), so such a packet is dropped without decrypting.
 */
export function readCounter(b: Uint8Array, offset: number): number {
  const low = readU32LE(b, offset);
  const high = readU32LE(b, offset + 4);
  if (high >= 0x20_0000) return -1;
  return high * 0x1_0000_0000 + low;
}

export function writeCounter(b: Uint8Array, offset: number, counter: number): void {
  writeU32LE(b, offset, counter >>> 0);
  writeU32LE(b, offset + 4, Math.floor(counter / 0x1_0000_0000));
}

/** The message type field is a little-endian u32 whose upper three bytes must be zero. */
export function messageType(b: Uint8Array): number {
  if (b.length < 4 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) return 0;
  return b[0]!;
}

export function newMessage(type: number, bytes: number): Uint8Array {
  const m = new Uint8Array(bytes);
  m[0] = type;
  return m;
}

export { MAC_BYTES };
