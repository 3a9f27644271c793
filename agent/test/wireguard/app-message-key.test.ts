import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { x25519 } from '@noble/curves/ed25519.js';
import { ArgumentError, clampX25519, InvalidKeyError } from '@meshguard/core';
import {
  APP_MESSAGE_LABEL,
  appMessageKeyFromSharedSecret,
  deriveAppMessageKey,
} from '../../src/wireguard/app-message-key.js';
import { hex, K1_WG, K2_WG, toHexStr } from '../swim/spec-fixtures.js';

const TV20_SHARED = '5166f24a6918368e2af831a4affadd97af0ac326bdf143596c045967cc00230e';
const TV20_KEY = '3724b2f33dcd371f05ba5215beacb00612b17fe6676586c81cdf6231b971a1cc';

test('TV20: the X25519 secret between K1 and K2 (CLI WG keys) is symmetric', () => {
  assert.equal(toHexStr(x25519.getSharedSecret(K1_WG.privateKey, K2_WG.publicKey)), TV20_SHARED);
  assert.equal(toHexStr(x25519.getSharedSecret(K2_WG.privateKey, K1_WG.publicKey)), TV20_SHARED);
});

test('TV20: app key T2, from the shared secret and from either side', () => {
  assert.equal(APP_MESSAGE_LABEL, 'meshguard-app-v1');
  assert.equal(toHexStr(appMessageKeyFromSharedSecret(hex(TV20_SHARED))), TV20_KEY);
  assert.equal(toHexStr(deriveAppMessageKey(K1_WG.privateKey, K2_WG.publicKey)), TV20_KEY);
  assert.equal(toHexStr(deriveAppMessageKey(K2_WG.privateKey, K1_WG.publicKey)), TV20_KEY);
});

test('low-order peer keys and wrong sizes are refused', () => {
  assert.throws(() => deriveAppMessageKey(K1_WG.privateKey, new Uint8Array(32)), InvalidKeyError);
  const one = new Uint8Array(32);
  one[0] = 1;
  assert.throws(() => deriveAppMessageKey(K1_WG.privateKey, one), InvalidKeyError);
  assert.throws(() => deriveAppMessageKey(K1_WG.privateKey, new Uint8Array(31)), ArgumentError);
  assert.throws(() => deriveAppMessageKey(new Uint8Array(16), K2_WG.publicKey), ArgumentError);
  assert.throws(() => appMessageKeyFromSharedSecret(new Uint8Array(16)), ArgumentError);
});

test('property: both ends of any key pair derive the same app key', () => {
  const arbPriv = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(clampX25519);
  fc.assert(
    fc.property(arbPriv, arbPriv, (a, b) => {
      const keyAB = deriveAppMessageKey(a, x25519.getPublicKey(b));
      assert.equal(keyAB.length, 32);
      assert.deepEqual(keyAB, deriveAppMessageKey(b, x25519.getPublicKey(a)));
    }),
    { numRuns: 25 },
  );
});
