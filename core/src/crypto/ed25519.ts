import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from 'node:crypto';
import { isAllZero } from '../encoding/bytes.js';
import { InvalidKeyError } from '../errors.js';

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;

/** An Ed25519 public key that passed `assertValidPublicKey`. */
export type PublicKey = Uint8Array;

export interface Ed25519KeyPair {
  /** RFC 8032 seed (the secret), 32 bytes. */
  readonly seed: Uint8Array;
  readonly publicKey: PublicKey;
}

export function generateKeyPair(): Ed25519KeyPair {
  return keyPairFromSeed(new Uint8Array(randomBytes(SEED_BYTES)));
}

export function keyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== SEED_BYTES) throw new InvalidKeyError(`seed must be ${SEED_BYTES} bytes`);
  return { seed: Uint8Array.from(seed), publicKey: ed25519.getPublicKey(seed) };
}

/**
 * Why a 32-byte string is not an acceptable identity/org key, or null when it is.
 * Stricter than the reference on purpose (spec §16): the all-zero key, non-canonical
 * encodings and small-order points are refused, since any of them lets one signature
 * verify for many messages or matches the "no key" sentinel used on the wire.
 */
export function publicKeyProblem(key: Uint8Array): string | null {
  if (key.length !== PUBLIC_KEY_BYTES) return `must be ${PUBLIC_KEY_BYTES} bytes, got ${key.length}`;
  if (isAllZero(key)) return 'is the all-zero key';
  let point;
  try {
    point = ed25519.Point.fromBytes(key, false);
  } catch {
    return 'is not a point on the Ed25519 curve';
  }
  if (point.isSmallOrder()) return 'is a small-order point';
  return null;
}

export function isValidPublicKey(key: Uint8Array): boolean {
  return publicKeyProblem(key) === null;
}

export function assertValidPublicKey(key: Uint8Array, what: string): PublicKey {
  const problem = publicKeyProblem(key);
  if (problem !== null) throw new InvalidKeyError(`${what} ${problem}`);
  return key;
}

/** Deterministic RFC 8032 signature (no context, no prehash), as the reference produces. */
export function sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed25519.sign(message, seed);
}

/**
 * Strict verification: canonical A/R/S, cofactored equation, small-order A and identity R
 * refused — the same acceptance set as the reference's verifier, so honest signatures agree
 * and crafted edge cases are refused by both.
 */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKeyProblem(publicKey) !== null) return false;
  try {
    if (ed25519.Point.fromBytes(signature.subarray(0, 32), false).is0()) return false;
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
