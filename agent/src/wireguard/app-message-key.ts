import { x25519 } from '@noble/curves/ed25519.js';
import { assertLength, errorMessage, InvalidKeyError } from '@meshguard/core';
import { kdf2 } from './hkdf.js';
import { WIREGUARD_KEY_BYTES } from './noise-constants.js';

/**
 * Key of the FFI app message 0x50 (spec §14.1): the WireGuard KDF keyed with the static-static
 * X25519 secret over the label, second output. Both directions between two nodes share it,
 * since the DH is symmetric; it lives here because it is WireGuard-key material, not SWIM.
 */
export const APP_MESSAGE_LABEL = 'meshguard-app-v1';

/** T2 of KDF(shared, "meshguard-app-v1"); `shared` is the raw 32-byte X25519 output. */
export function appMessageKeyFromSharedSecret(shared: Uint8Array): Uint8Array {
  assertLength(shared, 32, 'X25519 shared secret');
  const [t1, t2] = kdf2(shared, new TextEncoder().encode(APP_MESSAGE_LABEL));
  t1.fill(0);
  return t2;
}

/**
 * The key for app messages between us and a peer. Low-order peer keys (all-zero shared
 * secret) are refused, as the reference's X25519 refuses the identity element.
 */
export function deriveAppMessageKey(ownWgPrivateKey: Uint8Array, peerWgPublicKey: Uint8Array): Uint8Array {
  assertLength(ownWgPrivateKey, WIREGUARD_KEY_BYTES, 'WireGuard private key');
  assertLength(peerWgPublicKey, WIREGUARD_KEY_BYTES, 'peer WireGuard public key');
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(ownWgPrivateKey, peerWgPublicKey);
  } catch (err) {
    throw new InvalidKeyError(`peer WireGuard public key unusable: ${errorMessage(err)}`, { cause: err });
  }
  try {
    return appMessageKeyFromSharedSecret(shared);
  } finally {
    shared.fill(0);
  }
}
