import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { aeadPrimitives } from './aead-binding.js';
import { AEAD_TAG_BYTES } from './constants.js';

/**
 * ChaCha20-Poly1305 (RFC 8439) as WireGuard uses it: nonce = 4 zero bytes ‖ LE64(counter), tag
 * appended. The work is done by the native addon (OpenSSL inside node, see aead-binding.ts):
 * node:crypto's createCipheriv() spends ~20 µs per packet building cipher objects, which capped
 * the data plane at ~0.47 Gbit/s. Counters are integers below 2^53 (see constants.ts); anything
 * else, or a range outside a buffer, throws a RangeError.
 */

/** Encrypts `plaintext` into `out` at `outOffset` (ciphertext ‖ tag); returns bytes written. */
export function sealInto(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  ad: Uint8Array | null,
  out: Uint8Array,
  outOffset: number,
): number {
  return aeadPrimitives().aeadSeal(key, counter, plaintext, 0, plaintext.length, out, outOffset, ad);
}

export function seal(key: Uint8Array, counter: number, plaintext: Uint8Array, ad: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  sealInto(key, counter, plaintext, ad, out, 0);
  return out;
}

/**
 * Decrypts ciphertext ‖ tag into `out` at `outOffset`; returns the plaintext length, or -1 when
 * authentication fails (the output range is then zeroed). `sealed` and `out` may overlap.
 */
export function openInto(
  key: Uint8Array,
  counter: number,
  sealed: Uint8Array,
  ad: Uint8Array | null,
  out: Uint8Array,
  outOffset: number,
): number {
  return aeadPrimitives().aeadOpen(key, counter, sealed, 0, sealed.length, out, outOffset, ad);
}

/** Decrypts ciphertext ‖ tag; null when authentication fails. */
export function open(key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array | null): Uint8Array | null {
  if (sealed.length < AEAD_TAG_BYTES) return null;
  const out = plaintextArray(sealed.length - AEAD_TAG_BYTES);
  return openInto(key, counter, sealed, ad, out, 0) < 0 ? null : out;
}

/**
 * A new array for a plaintext. Above 64 bytes V8 gives each typed array its own malloc'd store,
 * which at 1.4 kB costs as much as the decryption (~0.8 µs); Node's Buffer pool hands out slices
 * of shared 8 KiB chunks instead. Handshake-sized results stay separate, so a kept key never pins
 * a chunk. Uninitialised memory is safe here: openInto overwrites every byte or zeroes them.
 */
function plaintextArray(length: number): Uint8Array {
  if (length <= 64) return new Uint8Array(length);
  const pooled = Buffer.allocUnsafe(length);
  // A plain Uint8Array, as before: Buffer's slice() and toString() behave differently.
  return new Uint8Array(pooled.buffer, pooled.byteOffset, length);
}

/**
 * Descriptors for sealBatch/openBatch. Allocate one per loop and refill it per batch: the arrays
 * cross into the addon as they are, so a batch costs one call and no allocation.
 */
export class AeadBatch {
  /** Packet i is sealed/opened under counters[i]. */
  readonly counters: Float64Array;
  /** Packet i is src[srcOffsets[i], +srcLengths[i]) (ciphertext ‖ tag for openBatch). */
  readonly srcOffsets: Uint32Array;
  readonly srcLengths: Uint32Array;
  /** Where packet i's output starts in dst: srcLengths[i] + 16 bytes sealed, − 16 opened. */
  readonly dstOffsets: Uint32Array;
  /** Set by openBatch: packet i's plaintext length, or -1 if it failed authentication. */
  readonly results: Int32Array;

  constructor(readonly capacity: number) {
    this.counters = new Float64Array(capacity);
    this.srcOffsets = new Uint32Array(capacity);
    this.srcLengths = new Uint32Array(capacity);
    this.dstOffsets = new Uint32Array(capacity);
    this.results = new Int32Array(capacity);
  }
}

/**
 * Seals packets 0..count-1 of `batch` (no AD: transport data has none), as sealInto would one by
 * one. Every range is checked before any packet is touched; src and dst may be the same buffer.
 */
export function sealBatch(key: Uint8Array, src: Uint8Array, dst: Uint8Array, batch: AeadBatch, count: number): void {
  const b = batch;
  aeadPrimitives().aeadSealBatch(key, b.counters, src, b.srcOffsets, b.srcLengths, dst, b.dstOffsets, count);
}

/** Opens packets 0..count-1 of `batch` into dst; fills batch.results; returns how many authenticated. */
export function openBatch(key: Uint8Array, src: Uint8Array, dst: Uint8Array, batch: AeadBatch, count: number): number {
  const b = batch;
  return aeadPrimitives().aeadOpenBatch(
    key,
    b.counters,
    src,
    b.srcOffsets,
    b.srcLengths,
    dst,
    b.dstOffsets,
    b.results,
    count,
  );
}

/** XChaCha20-Poly1305 for cookie replies (24-byte nonce); OpenSSL has no XChaCha, noble does. */
export function xseal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

export function xopen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(sealed);
  } catch {
    return null;
  }
}
