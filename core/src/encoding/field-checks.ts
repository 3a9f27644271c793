import { ArgumentError } from '@meshguard/core';

/**
 * Encoder-side argument checks shared by the wire codecs. Encoders refuse values the wire
 * cannot carry rather than truncating or wrapping them: `DataView.setBigUint64` silently
 * reduces modulo 2⁶⁴, and `Uint8Array.set` of a short key leaves zeros behind.
 */

const U64_MAX = (1n << 64n) - 1n;

export function assertU64(value: bigint, what: string): bigint {
  if (value < 0n || value > U64_MAX) throw new ArgumentError(`${what} must be an unsigned 64-bit integer`);
  return value;
}

export function assertU16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new ArgumentError(`${what} must be an integer 0-65535, got ${value}`);
  }
  return value;
}

export function assertU32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new ArgumentError(`${what} must be an integer 0-4294967295, got ${value}`);
  }
  return value;
}

export function assertU8(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new ArgumentError(`${what} must be an integer 0-255, got ${value}`);
  }
  return value;
}

export function assertLength(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) throw new ArgumentError(`${what} must be ${length} bytes, got ${bytes.length}`);
  return bytes;
}
