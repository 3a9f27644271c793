import { x25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { SEED_BYTES } from '../crypto/ed25519.js';
import { randomBytes } from 'node:crypto';
import { isAllZero } from '../encoding/bytes.js';
import { InvalidKeyError } from '../errors.js';

export interface WireGuardKeyPair {
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function clampX25519(key: Uint8Array): Uint8Array {
  const k = Uint8Array.from(key);
  k[0] = k[0]! & 0xf8;
  k[31] = (k[31]! & 0x7f) | 0x40;
  return k;
}

/**
 * The standalone daemon's WireGuard static key (spec §2.1): the clamped first half of
 * SHA-512(seed), i.e. the Ed25519 secret scalar, so its public half is the identity key's
 * Montgomery form. Peers still learn it from gossip/certificates, never by inference.
 */
export function deriveWireGuardKeyPair(seed: Uint8Array): WireGuardKeyPair {
  if (seed.length !== SEED_BYTES) throw new InvalidKeyError(`seed must be ${SEED_BYTES} bytes`);
  const privateKey = clampX25519(sha512(seed).subarray(0, 32));
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

/** A key pair from a stored private key (clamped, as X25519 uses it). */
export function wireGuardKeyPairFromPrivate(privateKey: Uint8Array): WireGuardKeyPair {
  if (privateKey.length !== 32) throw new InvalidKeyError('WireGuard private key must be 32 bytes');
  const clamped = clampX25519(privateKey);
  return { privateKey: clamped, publicKey: x25519.getPublicKey(clamped) };
}

/**
 * Whether the WireGuard public key `a` is the handshake initiator against `b` (spec §2.4):
 * the lexicographically smaller key initiates, so exactly one side starts.
 */
export function isTieBreakInitiator(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) < 0;
}

/**
 * Refuses WireGuard public keys that cannot give a shared secret: wrong length, all zero, or
 * a small-order point (X25519 with any scalar yields zero). Binding such a key in a
 * certificate would certify a tunnel nobody can authenticate.
 */
export function assertValidWireGuardPublicKey(key: Uint8Array, what: string): Uint8Array {
  if (key.length !== 32) throw new InvalidKeyError(`${what} must be 32 bytes, got ${key.length}`);
  if (isAllZero(key)) throw new InvalidKeyError(`${what} is all zero`);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(clampX25519(randomBytes(32)), key);
  } catch {
    throw new InvalidKeyError(`${what} is a small-order X25519 point`);
  }
  if (isAllZero(shared)) throw new InvalidKeyError(`${what} is a small-order X25519 point`);
  return key;
}
