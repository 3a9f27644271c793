import { ArgumentError, assertLength, copyBytes, DecodeError, formatIPv4 } from '@meshguard/core';
import type { IPv4Endpoint } from '../swim/endpoint-codec.js';

/** The subset of STUN (RFC 5389) meshguard speaks: one Binding exchange, IPv4 only (spec §10). */
export const STUN_HEADER_BYTES = 20;
export const STUN_TRANSACTION_ID_BYTES = 12;
export const STUN_MAGIC_COOKIE = 0x2112a442;

const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const FAMILY_IPV4 = 0x01;
/** reserved(1) ‖ family(1) ‖ port(2) ‖ IPv4(4) */
const IPV4_ADDRESS_VALUE_BYTES = 8;

const COOKIE_BYTES = Uint8Array.of(0x21, 0x12, 0xa4, 0x42);

export type StunAddressAttribute = 'xor-mapped-address' | 'mapped-address';

export interface StunBindingResult {
  /** Our address as the server saw it. */
  readonly mapped: IPv4Endpoint;
  /** Which attribute supplied it. */
  readonly attribute: StunAddressAttribute;
}

const be16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;

/** 20-byte Binding Request without attributes; the caller supplies the random transaction ID. */
export function encodeStunBindingRequest(transactionId: Uint8Array): Uint8Array {
  const out = new Uint8Array(STUN_HEADER_BYTES);
  out[0] = BINDING_REQUEST >> 8;
  out[1] = BINDING_REQUEST & 0xff;
  out.set(COOKIE_BYTES, 4);
  out.set(assertLength(transactionId, STUN_TRANSACTION_ID_BYTES, 'STUN transaction ID'), 8);
  return out;
}

function readIPv4Address(value: Uint8Array, xor: boolean): IPv4Endpoint | null {
  if (value.length < IPV4_ADDRESS_VALUE_BYTES || value[1] !== FAMILY_IPV4) return null;
  let port = be16(value, 2);
  const address = copyBytes(value, 4, 8);
  if (xor) {
    port ^= STUN_MAGIC_COOKIE >>> 16;
    for (let i = 0; i < 4; i++) address[i] = address[i]! ^ COOKIE_BYTES[i]!;
  }
  return { family: 4, address: formatIPv4(address), port };
}

/**
 * Accepts only a Binding Success for the transaction we asked about. Attributes are walked
 * 4-byte aligned inside the declared message length — clamped to the datagram, so a lying
 * length cannot make us read past it — and the first usable (IPv4, well-formed)
 * XOR-MAPPED-ADDRESS or MAPPED-ADDRESS wins. A truncated attribute ends the walk.
 */
export function decodeStunBindingResponse(bytes: Uint8Array, transactionId: Uint8Array): StunBindingResult {
  if (transactionId.length !== STUN_TRANSACTION_ID_BYTES) {
    throw new ArgumentError(`STUN transaction ID must be ${STUN_TRANSACTION_ID_BYTES} bytes`);
  }
  if (bytes.length < STUN_HEADER_BYTES) {
    throw new DecodeError(`STUN response: need at least ${STUN_HEADER_BYTES} bytes, got ${bytes.length}`);
  }
  const type = be16(bytes, 0);
  if (type !== BINDING_SUCCESS) {
    throw new DecodeError(`STUN response: type 0x${type.toString(16).padStart(4, '0')} is not a Binding Success`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[4 + i] !== COOKIE_BYTES[i]) throw new DecodeError('STUN response: wrong magic cookie');
  }
  for (let i = 0; i < STUN_TRANSACTION_ID_BYTES; i++) {
    if (bytes[8 + i] !== transactionId[i]) throw new DecodeError('STUN response: transaction ID does not match');
  }
  const end = Math.min(STUN_HEADER_BYTES + be16(bytes, 2), bytes.length);
  let offset = STUN_HEADER_BYTES;
  while (offset + 4 <= end) {
    const attrType = be16(bytes, offset);
    const attrLength = be16(bytes, offset + 2);
    const valueStart = offset + 4;
    if (valueStart + attrLength > end) break;
    if (attrType === ATTR_XOR_MAPPED_ADDRESS || attrType === ATTR_MAPPED_ADDRESS) {
      const xor = attrType === ATTR_XOR_MAPPED_ADDRESS;
      const mapped = readIPv4Address(bytes.subarray(valueStart, valueStart + attrLength), xor);
      if (mapped !== null) return { mapped, attribute: xor ? 'xor-mapped-address' : 'mapped-address' };
    }
    offset = valueStart + ((attrLength + 3) & ~3);
  }
  throw new DecodeError('STUN response: no IPv4 (XOR-)MAPPED-ADDRESS');
}
