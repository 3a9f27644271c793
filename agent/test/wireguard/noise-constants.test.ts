import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { blake2s } from '@noble/hashes/blake2.js';
import { ArgumentError, concatBytes, deriveWireGuardKeyPair } from '@meshguard/core';
import {
  initialChainingKey,
  initialHash,
  mac1Key,
  mixHash,
  NOISE_CONSTRUCTION,
  responderInitialHash,
  WIREGUARD_IDENTIFIER,
} from '../../src/wireguard/noise-constants.js';
import { arbKey } from '../swim/arbitraries.js';
import { hex, K1, K1_WG, K2, K2_WG, K3, toHexStr } from '../swim/spec-fixtures.js';

test('TV5: the CLI WireGuard keys the vectors below are built from', () => {
  assert.equal(toHexStr(K1_WG.privateKey), '307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f');
  assert.equal(toHexStr(K1_WG.publicKey), 'd85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e');
  assert.equal(toHexStr(K2_WG.publicKey), '25c704c594b88afc00a76b69d1ed2b984d7e22550f3ed0802d04fbcd07d38d47');
  assert.equal(
    toHexStr(deriveWireGuardKeyPair(K3.seed).publicKey),
    'cbb22fc9f790bd3eba9b84680c157ca4950a9894362601701f89c3c4d9fda23a',
  );
  assert.notDeepEqual(K1.publicKey, K2.publicKey);
});

test('construction and identifier strings', () => {
  assert.equal(NOISE_CONSTRUCTION, 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
  assert.equal(WIREGUARD_IDENTIFIER, 'WireGuard v1 zx2c4 Jason@zx2c4.com');
});

test('TV19 ck0 and h0', () => {
  assert.equal(toHexStr(initialChainingKey()), '60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
  assert.equal(toHexStr(initialHash()), '2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
});

test('TV19 h1 for responder K2', () => {
  assert.equal(
    toHexStr(responderInitialHash(K2_WG.publicKey)),
    '8ee3d52035ee97c09122f5337dfb325ba7dcb96b20824ec89f218287daed734d',
  );
});

test('TV19 MAC1 key for messages sent to K2', () => {
  assert.equal(toHexStr(mac1Key(K2_WG.publicKey)), '25afba5f553fb2524471b5307e493754e199fa40047b6bcc3e7c9d6de17bbdce');
});

test('returned state is a fresh copy each time', () => {
  const ck = initialChainingKey();
  ck.fill(0);
  const h = initialHash();
  h.fill(0);
  assert.equal(toHexStr(initialChainingKey()).slice(0, 8), '60e26dae');
  assert.equal(toHexStr(initialHash()).slice(0, 8), '2211b361');
  assert.equal(toHexStr(responderInitialHash(K2_WG.publicKey)).slice(0, 8), '8ee3d520');
});

test('static keys must be 32 bytes', () => {
  assert.throws(() => responderInitialHash(new Uint8Array(31)), ArgumentError);
  assert.throws(() => mac1Key(new Uint8Array(33)), ArgumentError);
});

test('property: h1 is MixHash(h0, key) and mac1Key is BLAKE2s("mac1----" ‖ key)', () => {
  fc.assert(
    fc.property(arbKey, (key) => {
      assert.deepEqual(responderInitialHash(key), mixHash(initialHash(), key));
      assert.deepEqual(responderInitialHash(key), blake2s(concatBytes(initialHash(), key)));
      assert.deepEqual(mac1Key(key), blake2s(concatBytes(new TextEncoder().encode('mac1----'), key)));
    }),
  );
  assert.deepEqual(mixHash(hex('00'), new Uint8Array(0)), blake2s(hex('00')));
});
