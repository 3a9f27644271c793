import { timingSafeEqual } from 'node:crypto';

export function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}

/** Constant-time for equal lengths; different lengths are public information. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function writeI64LE(buf: Uint8Array, offset: number, value: bigint): void {
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setBigInt64(offset, value, true);
}

export function readI64LE(buf: Uint8Array, offset: number): bigint {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigInt64(offset, true);
}

export function writeU64LE(buf: Uint8Array, offset: number, value: bigint): void {
  new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setBigUint64(offset, value, true);
}

export function readU64LE(buf: Uint8Array, offset: number): bigint {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(offset, true);
}

/** Text fields padded with NULs (cert node name, alias): trailing NULs are not part of the value. */
export function stripTrailingNuls(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return bytes.subarray(0, end);
}

/**
 * A fresh plain Uint8Array holding bytes[start, end). Decoders use it for every field they
 * return: on a Buffer (what node:dgram and node:fs hand us) `.slice` is a view, so a reused
 * receive buffer would silently rewrite already-decoded keys.
 */
export function copyBytes(bytes: Uint8Array, start: number, end: number = bytes.length): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}
