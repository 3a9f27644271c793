import { blake2s } from '@noble/hashes/blake2.js';
import { assertLength, concatBytes } from '@meshguard/core';

/**
 * Noise_IKpsk2 starting values as WireGuard defines them (spec §11.2–11.3, TV19). Functions
 * return fresh copies because handshake state mutates its chaining key and hash in place.
 */
export const NOISE_CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const WIREGUARD_IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const MAC1_LABEL = 'mac1----';
export const HASH_BYTES = 32;
export const WIREGUARD_KEY_BYTES = 32;

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

const CK0 = blake2s(ascii(NOISE_CONSTRUCTION));
const H0 = blake2s(concatBytes(CK0, ascii(WIREGUARD_IDENTIFIER)));
const MAC1_LABEL_BYTES = ascii(MAC1_LABEL);

/** Noise MixHash: h' = BLAKE2s(h ‖ data). */
export function mixHash(hash: Uint8Array, data: Uint8Array): Uint8Array {
  return blake2s(concatBytes(hash, data));
}

/** ck0 = BLAKE2s(construction). */
export function initialChainingKey(): Uint8Array {
  return CK0.slice();
}

/** h0 = BLAKE2s(ck0 ‖ identifier). */
export function initialHash(): Uint8Array {
  return H0.slice();
}

/** h1 = BLAKE2s(h0 ‖ responder static public key): the IK pre-message, known to both sides. */
export function responderInitialHash(responderStaticPublicKey: Uint8Array): Uint8Array {
  return mixHash(H0, assertLength(responderStaticPublicKey, WIREGUARD_KEY_BYTES, 'responder static public key'));
}

/** Key for MAC1 on messages sent *to* this static key: BLAKE2s("mac1----" ‖ key). */
export function mac1Key(receiverStaticPublicKey: Uint8Array): Uint8Array {
  return blake2s(
    concatBytes(
      MAC1_LABEL_BYTES,
      assertLength(receiverStaticPublicKey, WIREGUARD_KEY_BYTES, 'receiver static public key'),
    ),
  );
}
