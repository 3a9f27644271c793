import { ArgumentError, assertU16, DecodeError, formatIPv6, parseIPv6 } from '@meshguard/core';

/** Fixed-size Endpoint field embedded in gossip entries and hole-punch messages (spec §6.3). */
export const ENDPOINT_BYTES = 20;

const OFF_PRESENT = 0;
const OFF_FAMILY = 1;
const OFF_ADDRESS = 2;
const OFF_PORT = 18;

export interface IPv4Endpoint {
  readonly family: 4;
  /** Dotted quad. */
  readonly address: string;
  readonly port: number;
}

export interface IPv6Endpoint {
  readonly family: 6;
  /** Any RFC 4291 text form on input; RFC 5952 (compressed, lowercase) when decoded. */
  readonly address: string;
  readonly port: number;
}

export type Endpoint = IPv4Endpoint | IPv6Endpoint;

/** The 4 or 16 address bytes of an endpoint; ArgumentError when the text is not of its family. */
export function endpointAddressBytes(endpoint: Endpoint): Uint8Array {
  const bytes = endpoint.family === 4 ? dottedQuad(endpoint.address) : parseIPv6(endpoint.address);
  if (bytes === null) {
    throw new ArgumentError(`endpoint address "${endpoint.address}" is not an IPv${endpoint.family} literal`);
  }
  return bytes;
}

/**
 * Core's parseIPv4 without its split and regular expressions (a SWIM node encodes an endpoint
 * for every rumour it starts): the same language — four decimal octets, no leading zeros.
 */
function dottedQuad(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return null;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

/** `a.b.c.d:port` or `[v6]:port`, for logs and the `seeds` file. */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.family === 4 ? `${endpoint.address}:${endpoint.port}` : `[${endpoint.address}]:${endpoint.port}`;
}

/** `null` encodes the absent endpoint: 20 zero bytes. */
export function encodeEndpoint(endpoint: Endpoint | null): Uint8Array {
  const out = new Uint8Array(ENDPOINT_BYTES);
  if (endpoint === null) return out;
  const port = assertU16(endpoint.port, 'endpoint port');
  out[OFF_PRESENT] = 1;
  out[OFF_FAMILY] = endpoint.family;
  out.set(endpointAddressBytes(endpoint), OFF_ADDRESS);
  out[OFF_PORT] = port & 0xff;
  out[OFF_PORT + 1] = port >> 8;
  return out;
}

/**
 * Exactly 20 bytes. Lenient where the reference is: any non-zero present byte means present,
 * any family other than 6 means IPv4, and bytes the chosen family does not use (the rest of an
 * absent field, the 12 bytes after an IPv4 address) are ignored — a stricter reader would
 * drop gossip the reference accepts.
 */
export function decodeEndpoint(bytes: Uint8Array): Endpoint | null {
  if (bytes.length !== ENDPOINT_BYTES) {
    throw new DecodeError(`endpoint: expected ${ENDPOINT_BYTES} bytes, got ${bytes.length}`);
  }
  return decodeEndpointAt(bytes, 0);
}

/**
 * `decodeEndpoint` of the 20 bytes at `offset`, which the caller has checked are there:
 * every gossip entry holds two endpoints, and a view per field was a measurable share of a
 * large simulation's allocations.
 */
export function decodeEndpointAt(bytes: Uint8Array, offset: number): Endpoint | null {
  if (bytes[offset + OFF_PRESENT] === 0) return null;
  const port = bytes[offset + OFF_PORT]! | (bytes[offset + OFF_PORT + 1]! << 8);
  const a = offset + OFF_ADDRESS;
  if (bytes[offset + OFF_FAMILY] === 6) return { family: 6, address: formatIPv6(bytes.subarray(a, a + 16)), port };
  // Same text as core's formatIPv4, without its array round trip: every gossip entry has one.
  return { family: 4, address: `${bytes[a]!}.${bytes[a + 1]!}.${bytes[a + 2]!}.${bytes[a + 3]!}`, port };
}
