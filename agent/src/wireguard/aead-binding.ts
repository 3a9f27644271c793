import { createCipheriv, createDecipheriv } from 'node:crypto';
import process from 'node:process';
import { tunBinding, type NativeTunBinding } from '../net/tun-binding.js';
import { AEAD_TAG_BYTES } from './constants.js';

/**
 * The ChaCha20-Poly1305 primitives (RFC 8439; documented on NativeTunBinding). `nonce` is a
 * WireGuard counter or an explicit 12-byte nonce; open returns -1 for a forgery.
 */
export type AeadPrimitives = Pick<NativeTunBinding, 'aeadSeal' | 'aeadOpen' | 'aeadSealBatch' | 'aeadOpenBatch'>;

export type AeadBackend = 'native' | 'node:crypto';

let loaded: { backend: AeadBackend; primitives: AeadPrimitives } | null = null;

/**
 * The addon's primitives (OpenSSL inside node, one reused context per direction). The addon is
 * built on Linux only; elsewhere node:crypto stands in, correct but about 20× slower per packet,
 * so the protocol code and its tests still run on a developer's machine. On Linux a missing addon
 * is an error (TunError: run `npm run build:native`), never a silent slow path.
 */
export function aeadPrimitives(): AeadPrimitives {
  loaded ??=
    process.platform === 'linux'
      ? { backend: 'native', primitives: tunBinding() }
      : { backend: 'node:crypto', primitives: nodeCryptoAead };
  return loaded.primitives;
}

/** Which implementation aeadPrimitives() uses (loading it if need be); for logs and benchmarks. */
export function aeadBackend(): AeadBackend {
  aeadPrimitives();
  return loaded!.backend;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const nonceBuffer = Buffer.alloc(12);

function nodeNonce(nonce: number | Uint8Array): Buffer {
  if (typeof nonce !== 'number') {
    if (nonce.length !== 12) throw new RangeError('nonce must be 12 bytes');
    nonceBuffer.set(nonce);
    return nonceBuffer;
  }
  if (!Number.isSafeInteger(nonce) || nonce < 0) throw new RangeError('counter must be an integer in [0, 2^53)');
  // WireGuard's nonce: 4 zero bytes ‖ LE64(counter).
  nonceBuffer.writeUInt32LE(0, 0);
  nonceBuffer.writeUInt32LE(nonce >>> 0, 4);
  nonceBuffer.writeUInt32LE(Math.floor(nonce / 0x1_0000_0000), 8);
  return nonceBuffer;
}

/** bytes[offset, +length), or a RangeError — subarray() would silently clamp instead. */
function span(bytes: Uint8Array, offset: number, length: number, what: string): Uint8Array {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > Math.min(bytes.length, MAX_SAFE)
  ) {
    throw new RangeError(`${what} range lies outside ${what}`);
  }
  return bytes.subarray(offset, offset + length);
}

/**
 * The same primitives on node:crypto: the fallback off Linux, and a second implementation for
 * tests. Batches are plain loops, so unlike the addon a bad descriptor may stop one part-way.
 */
export const nodeCryptoAead: AeadPrimitives = {
  aeadSeal(key, nonce, src, srcOffset, srcLength, dst, dstOffset, ad) {
    const input = span(src, srcOffset, srcLength, 'src');
    const output = span(dst, dstOffset, srcLength + AEAD_TAG_BYTES, 'dst');
    const cipher = createCipheriv('chacha20-poly1305', key, nodeNonce(nonce), { authTagLength: AEAD_TAG_BYTES });
    if (ad !== null) cipher.setAAD(ad, { plaintextLength: srcLength });
    // update() copies out before anything is written, so overlapping input and output are fine.
    const body = cipher.update(input);
    cipher.final();
    output.set(body);
    output.set(cipher.getAuthTag(), srcLength);
    return srcLength + AEAD_TAG_BYTES;
  },

  aeadOpen(key, nonce, src, srcOffset, srcLength, dst, dstOffset, ad) {
    const input = span(src, srcOffset, srcLength, 'src');
    if (srcLength < AEAD_TAG_BYTES) return -1;
    const bodyLength = srcLength - AEAD_TAG_BYTES;
    const output = span(dst, dstOffset, bodyLength, 'dst');
    const decipher = createDecipheriv('chacha20-poly1305', key, nodeNonce(nonce), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(input.subarray(bodyLength));
    if (ad !== null) decipher.setAAD(ad, { plaintextLength: bodyLength });
    const body = decipher.update(input.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch {
      output.fill(0); // as the addon: no unauthenticated plaintext left behind
      return -1;
    }
    output.set(body);
    return bodyLength;
  },

  aeadSealBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, count) {
    checkCount(count, [counters, srcOffsets, srcLengths, dstOffsets]);
    for (let i = 0; i < count; i++) {
      this.aeadSeal(key, counters[i]!, src, srcOffsets[i]!, srcLengths[i]!, dst, dstOffsets[i]!, null);
    }
    return count;
  },

  aeadOpenBatch(key, counters, src, srcOffsets, srcLengths, dst, dstOffsets, results, count) {
    checkCount(count, [counters, srcOffsets, srcLengths, dstOffsets, results]);
    let opened = 0;
    for (let i = 0; i < count; i++) {
      const n = this.aeadOpen(key, counters[i]!, src, srcOffsets[i]!, srcLengths[i]!, dst, dstOffsets[i]!, null);
      results[i] = n;
      if (n >= 0) opened++;
    }
    return opened;
  },
};

function checkCount(count: number, descriptors: readonly { length: number }[]): void {
  if (!Number.isSafeInteger(count) || count < 0 || descriptors.some((d) => count > d.length)) {
    throw new RangeError('count exceeds a descriptor array');
  }
}
