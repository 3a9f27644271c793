import { createCipheriv, createDecipheriv } from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_TAG_BYTES } from './constants.js';

/**
 * ChaCha20-Poly1305 (RFC 8439) through OpenSSL. Measured here at about 2.5× the pure-JS
 * cipher for a 1.4 kB packet, which is what the data plane's throughput depends on.
 */
const nonceBuffer = Buffer.alloc(12);

function setNonce(counter: number): Buffer {
  // WireGuard's nonce: 4 zero bytes ‖ LE64(counter). Counters stay below 2^53 (see constants.ts).
  nonceBuffer.writeUInt32LE(0, 0);
  nonceBuffer.writeUInt32LE(counter >>> 0, 4);
  nonceBuffer.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 8);
  return nonceBuffer;
}

/** Encrypts `plaintext` into `out` at `outOffset` (ciphertext ‖ tag); returns bytes written. */
export function sealInto(
  key: Uint8Array,
  counter: number,
  plaintext: Uint8Array,
  ad: Uint8Array | null,
  out: Uint8Array,
  outOffset: number,
): number {
  const cipher = createCipheriv('chacha20-poly1305', key, setNonce(counter), { authTagLength: AEAD_TAG_BYTES });
  if (ad !== null) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  out.set(body, outOffset);
  out.set(cipher.getAuthTag(), outOffset + body.length);
  return body.length + AEAD_TAG_BYTES;
}

export function seal(key: Uint8Array, counter: number, plaintext: Uint8Array, ad: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(plaintext.length + AEAD_TAG_BYTES);
  sealInto(key, counter, plaintext, ad, out, 0);
  return out;
}

/** Decrypts ciphertext ‖ tag; null when authentication fails. */
export function open(key: Uint8Array, counter: number, sealed: Uint8Array, ad: Uint8Array | null): Uint8Array | null {
  if (sealed.length < AEAD_TAG_BYTES) return null;
  const bodyLength = sealed.length - AEAD_TAG_BYTES;
  const decipher = createDecipheriv('chacha20-poly1305', key, setNonce(counter), { authTagLength: AEAD_TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(bodyLength));
  if (ad !== null) decipher.setAAD(ad, { plaintextLength: bodyLength });
  const body = decipher.update(sealed.subarray(0, bodyLength));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
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
