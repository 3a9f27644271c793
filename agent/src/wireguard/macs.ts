import { blake2s } from '@noble/hashes/blake2.js';
import { bytesEqual, concatBytes } from '@meshguard/core';
import { MAC_BYTES } from './constants.js';
import { mac1Key } from './noise-constants.js';

const COOKIE_LABEL = new TextEncoder().encode('cookie--');

/** MAC(key, input) = keyed BLAKE2s with a 16-byte output (whitepaper §5.4.4). */
export function mac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return blake2s(input, { key, dkLen: MAC_BYTES });
}

/** Key for decrypting cookie replies from (and encrypting them as) the holder of `staticPublicKey`. */
export function cookieKey(staticPublicKey: Uint8Array): Uint8Array {
  return blake2s(concatBytes(COOKIE_LABEL, staticPublicKey));
}

/** Precomputed per static key: MAC1 of messages sent to it, and its cookie encryption key. */
export interface MacKeys {
  readonly mac1: Uint8Array;
  readonly cookie: Uint8Array;
}

export function macKeysFor(staticPublicKey: Uint8Array): MacKeys {
  return { mac1: mac1Key(staticPublicKey), cookie: cookieKey(staticPublicKey) };
}

/** Writes MAC1 over message[0, mac1Offset) and returns a copy of it (the AD of a cookie reply). */
export function writeMac1(message: Uint8Array, mac1Offset: number, keys: MacKeys): Uint8Array {
  const m1 = mac(keys.mac1, message.subarray(0, mac1Offset));
  message.set(m1, mac1Offset);
  return m1;
}

export function writeMac2(message: Uint8Array, mac2Offset: number, cookie: Uint8Array | null): void {
  if (cookie === null) message.fill(0, mac2Offset, mac2Offset + MAC_BYTES);
  else message.set(mac(cookie, message.subarray(0, mac2Offset)), mac2Offset);
}

export function checkMac1(message: Uint8Array, mac1Offset: number, ownKeys: MacKeys): boolean {
  const expected = mac(ownKeys.mac1, message.subarray(0, mac1Offset));
  return bytesEqual(expected, message.subarray(mac1Offset, mac1Offset + MAC_BYTES));
}

export function checkMac2(message: Uint8Array, mac2Offset: number, cookie: Uint8Array): boolean {
  const expected = mac(cookie, message.subarray(0, mac2Offset));
  return bytesEqual(expected, message.subarray(mac2Offset, mac2Offset + MAC_BYTES));
}
