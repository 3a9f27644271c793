import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { concatBytes } from '@meshguard/core';

/**
 * WireGuard's KDF (whitepaper §5.4): HKDF (RFC 5869) with HMAC-BLAKE2s, the chaining key as
 * salt and empty info, truncated to one, two or three 32-byte outputs:
 *
 *   τ0 = HMAC(key, input)   τ1 = HMAC(τ0, 0x01)   τᵢ = HMAC(τ0, τᵢ₋₁ ‖ i)
 *
 * Each output is a fresh array; the pseudo-random key τ0 is wiped before returning.
 */
export const KDF_OUTPUT_BYTES = 32;

export function hmacBlake2s(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(blake2s, key, data);
}

function expand(key: Uint8Array, input: Uint8Array, count: 1 | 2 | 3): Uint8Array[] {
  const prk = hmacBlake2s(key, input);
  const outputs: Uint8Array[] = [];
  let previous: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= count; i++) {
    previous = hmacBlake2s(prk, concatBytes(previous, Uint8Array.of(i)));
    outputs.push(previous);
  }
  prk.fill(0);
  return outputs;
}

export function kdf1(key: Uint8Array, input: Uint8Array): [Uint8Array] {
  const [t1] = expand(key, input, 1);
  return [t1!];
}

export function kdf2(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] {
  const [t1, t2] = expand(key, input, 2);
  return [t1!, t2!];
}

export function kdf3(key: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  const [t1, t2, t3] = expand(key, input, 3);
  return [t1!, t2!, t3!];
}
