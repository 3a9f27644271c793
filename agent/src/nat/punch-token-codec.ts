import { blake3 } from '@noble/hashes/blake3.js';
import {
  ArgumentError,
  assertLength,
  assertU16,
  assertU64,
  assertU8,
  bytesEqual,
  copyBytes,
  DecodeError,
  formatIPv4,
  parseIPv4,
} from '@meshguard/core';
import type { IPv4Endpoint } from '../swim/endpoint-codec.js';
import { natTypeCode, natTypeFromCode, type NatType } from './nat-type.js';

/** `meshguard connect` rendezvous token and probe (spec §8.5). All integers big-endian. */
export const PUNCH_TOKEN_V1_BYTES = 106;
export const PUNCH_TOKEN_VERSION = 0x01;
export const PUNCH_URI_SCHEME = 'mg://';
export const PUNCH_WINDOW_SECONDS = 60;
export const MGCP_PROBE_BYTES = 16;
export const MGCP_NONCE_BYTES = 8;

const CHECKED_BYTES = 100;
const CHECK_BYTES = 6;
/** 106 bytes in unpadded base64url. */
const URI_PAYLOAD_CHARS = Math.ceil((PUNCH_TOKEN_V1_BYTES * 8) / 6);
const B64URL = /^[A-Za-z0-9_-]*$/;
/** "MGCP" */
const MGCP_MAGIC = Uint8Array.of(0x4d, 0x47, 0x43, 0x50);

export interface PunchToken {
  /** Written as 1; not checked on decode, kept so a token re-encodes to the same bytes. */
  readonly version: number;
  readonly identityPublicKey: Uint8Array;
  /** Informational only: peers never take a WireGuard key from a token (spec §2.3). */
  readonly wgPublicKey: Uint8Array;
  /** Our STUN-mapped address. */
  readonly mapped: IPv4Endpoint;
  /** Sender's mesh IPv4, dotted quad. */
  readonly meshIPv4: string;
  /** Unix seconds at which both sides start probing. */
  readonly punchTime: bigint;
  /** Written as 60; receivers use the constant PUNCH_WINDOW_SECONDS regardless. */
  readonly punchWindow: number;
  readonly nonce: Uint8Array;
  readonly stunServer: IPv4Endpoint;
  readonly natType: NatType;
}

function ipv4Bytes(text: string, what: string): Uint8Array {
  const bytes = parseIPv4(text);
  if (bytes === null) throw new ArgumentError(`${what} "${text}" is not an IPv4 address`);
  return bytes;
}

function ipv4EndpointBytes(endpoint: IPv4Endpoint, what: string): Uint8Array {
  const out = new Uint8Array(6);
  out.set(ipv4Bytes(endpoint.address, what), 0);
  const port = assertU16(endpoint.port, `${what} port`);
  out[4] = port >> 8;
  out[5] = port & 0xff;
  return out;
}

/** An unkeyed checksum against typos and truncation in copy-pasted tokens, not a signature. */
function checkValue(body: Uint8Array): Uint8Array {
  return blake3(body.subarray(0, CHECKED_BYTES)).subarray(0, CHECK_BYTES);
}

export function encodePunchToken(token: PunchToken): Uint8Array {
  const out = new Uint8Array(PUNCH_TOKEN_V1_BYTES);
  const view = new DataView(out.buffer);
  out[0] = assertU8(token.version, 'token version');
  out.set(assertLength(token.identityPublicKey, 32, 'identity public key'), 1);
  out.set(assertLength(token.wgPublicKey, 32, 'WireGuard public key'), 33);
  out.set(ipv4EndpointBytes(token.mapped, 'mapped endpoint'), 65);
  out.set(ipv4Bytes(token.meshIPv4, 'mesh IPv4'), 71);
  view.setBigUint64(75, assertU64(token.punchTime, 'punch time'), false);
  view.setUint16(83, assertU16(token.punchWindow, 'punch window'), false);
  out.set(assertLength(token.nonce, MGCP_NONCE_BYTES, 'nonce'), 85);
  out.set(ipv4EndpointBytes(token.stunServer, 'STUN server'), 93);
  out[99] = natTypeCode(token.natType);
  out.set(checkValue(out), CHECKED_BYTES);
  return out;
}

const endpointAt = (b: Uint8Array, at: number): IPv4Endpoint => ({
  family: 4,
  address: formatIPv4(b.subarray(at, at + 4)),
  port: (b[at + 4]! << 8) | b[at + 5]!,
});

/** Exactly 106 bytes with a matching check value. */
export function decodePunchToken(bytes: Uint8Array): PunchToken {
  if (bytes.length !== PUNCH_TOKEN_V1_BYTES) {
    throw new DecodeError(`punch token: expected ${PUNCH_TOKEN_V1_BYTES} bytes, got ${bytes.length}`);
  }
  if (!bytesEqual(checkValue(bytes), bytes.subarray(CHECKED_BYTES))) {
    throw new DecodeError('punch token: check value does not match (token damaged or mistyped)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    version: bytes[0]!,
    identityPublicKey: copyBytes(bytes, 1, 33),
    wgPublicKey: copyBytes(bytes, 33, 65),
    mapped: endpointAt(bytes, 65),
    meshIPv4: formatIPv4(bytes.subarray(71, 75)),
    punchTime: view.getBigUint64(75, false),
    punchWindow: view.getUint16(83, false),
    nonce: copyBytes(bytes, 85, 93),
    stunServer: endpointAt(bytes, 93),
    natType: natTypeFromCode(bytes[99]!),
  };
}

export function encodePunchUri(token: PunchToken): string {
  return PUNCH_URI_SCHEME + Buffer.from(encodePunchToken(token)).toString('base64url');
}

/**
 * Strict: Node's base64url decoder skips characters outside the alphabet and ignores stray
 * trailing bits, so a mangled paste could still decode; we require the canonical 142-character
 * unpadded form. Surrounding whitespace is the caller's to trim.
 */
export function decodePunchUri(uri: string): PunchToken {
  if (!uri.startsWith(PUNCH_URI_SCHEME)) throw new DecodeError(`punch token: must start with "${PUNCH_URI_SCHEME}"`);
  const payload = uri.slice(PUNCH_URI_SCHEME.length);
  if (payload.length !== URI_PAYLOAD_CHARS) {
    throw new DecodeError(`punch token: expected ${URI_PAYLOAD_CHARS} base64url characters, got ${payload.length}`);
  }
  if (!B64URL.test(payload)) throw new DecodeError('punch token: not base64url');
  const bytes = Buffer.from(payload, 'base64url');
  if (bytes.toString('base64url') !== payload) throw new DecodeError('punch token: not canonical base64url');
  return decodePunchToken(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
}

/** "MGCP" ‖ own nonce ‖ BLAKE3(own identity key)[0..4]. */
export function encodeMgcpProbe(nonce: Uint8Array, identityPublicKey: Uint8Array): Uint8Array {
  const out = new Uint8Array(MGCP_PROBE_BYTES);
  out.set(MGCP_MAGIC, 0);
  out.set(assertLength(nonce, MGCP_NONCE_BYTES, 'nonce'), 4);
  out.set(blake3(assertLength(identityPublicKey, 32, 'identity public key')).subarray(0, 4), 12);
  return out;
}

export interface MgcpProbe {
  /** The sender's token nonce; success means it equals the peer's (spec §8.5). */
  readonly nonce: Uint8Array;
  /** BLAKE3 prefix of the sender's identity key; informational, the reference ignores it. */
  readonly keyTag: Uint8Array;
}

/** At least 16 bytes beginning with "MGCP"; longer datagrams count, as in the reference. */
export function decodeMgcpProbe(bytes: Uint8Array): MgcpProbe {
  if (bytes.length < MGCP_PROBE_BYTES) {
    throw new DecodeError(`MGCP probe: need at least ${MGCP_PROBE_BYTES} bytes, got ${bytes.length}`);
  }
  for (let i = 0; i < MGCP_MAGIC.length; i++) {
    if (bytes[i] !== MGCP_MAGIC[i]) throw new DecodeError('MGCP probe: missing "MGCP" magic');
  }
  return { nonce: copyBytes(bytes, 4, 12), keyTag: copyBytes(bytes, 12, 16) };
}
