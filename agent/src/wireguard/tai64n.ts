import { ArgumentError } from '@meshguard/core';

/**
 * TAI64N timestamps as WireGuard puts them in handshake initiations (spec §11.2):
 * BE64(unix_seconds + 0x400000000000000A) ‖ BE32(nanoseconds). The responder only compares
 * them — a new initiation must carry a strictly greater timestamp than the last accepted one —
 * so they need to be monotonic, not accurate.
 *
 * Like wireguard-go, nanoseconds are rounded down to a multiple of 2^24 ns (≈16.8 ms) so an
 * initiation does not reveal the sender's clock precisely; it also means two initiations less
 * than one such step apart carry equal timestamps and the second is refused as a replay.
 */
export const TAI64N_BYTES = 12;

// 2^62 + 10: TAI64's label for the Unix epoch, with the 10 s TAI−UTC offset WireGuard uses.
const EPOCH_LABEL_HIGH = 0x4000_0000;
const EPOCH_LABEL_LOW = 0x0000_000a;
const TWO_POW_32 = 0x1_0000_0000;
const WHITENER_MASK = 0xff00_0000; // clears the low 24 bits, wireguard-go's whitenerMask
// ECMAScript's own time-value limit (±8.64e15 ms); it also keeps the seconds well inside BE64.
const MAX_TIME_MS = 8.64e15;

/** The whitened TAI64N label for `nowMs` (Unix milliseconds, fractional allowed). */
export function tai64n(nowMs: number): Uint8Array {
  const out = new Uint8Array(TAI64N_BYTES);
  writeTai64n(out, 0, nowMs);
  return out;
}

/** Allocation-free `tai64n`: writes the 12 bytes at `out[offset]`. */
export function writeTai64n(out: Uint8Array, offset: number, nowMs: number): void {
  if (!(nowMs >= 0 && nowMs <= MAX_TIME_MS)) {
    throw new ArgumentError(`TAI64N time must be between 0 and ${MAX_TIME_MS} ms, got ${nowMs}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + TAI64N_BYTES > out.length) {
    throw new ArgumentError(`TAI64N needs ${TAI64N_BYTES} bytes at offset ${offset} of a ${out.length}-byte buffer`);
  }
  const seconds = Math.floor(nowMs / 1000);
  // Fractional milliseconds can round up to a full second's worth of nanoseconds; whitening
  // then lands below 10^9 anyway, but clamp so the field is always a valid nanosecond count.
  const nanoseconds = Math.min(Math.floor((nowMs - seconds * 1000) * 1e6), 999_999_999);
  let high = Math.floor(seconds / TWO_POW_32) + EPOCH_LABEL_HIGH;
  let low = (seconds % TWO_POW_32) + EPOCH_LABEL_LOW;
  if (low >= TWO_POW_32) {
    low -= TWO_POW_32;
    high += 1;
  }
  writeUint32BE(out, offset, high);
  writeUint32BE(out, offset + 4, low);
  writeUint32BE(out, offset + 8, (nanoseconds & WHITENER_MASK) >>> 0);
}

/**
 * Unsigned byte-wise order of two 12-byte labels: negative, zero or positive as `a` is earlier
 * than, equal to or later than `b`. Big-endian encoding makes this the chronological order.
 */
export function compareTai64n(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== TAI64N_BYTES || b.length !== TAI64N_BYTES) {
    throw new ArgumentError(`TAI64N labels are ${TAI64N_BYTES} bytes, got ${a.length} and ${b.length}`);
  }
  for (let i = 0; i < TAI64N_BYTES; i++) {
    const diff = a[i]! - b[i]!;
    if (diff !== 0) return diff;
  }
  return 0;
}

function writeUint32BE(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}
