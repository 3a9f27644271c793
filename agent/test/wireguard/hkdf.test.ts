import assert from 'node:assert/strict';
import { createHmac, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { concatBytes } from '@meshguard/core';
import { hmacBlake2s, kdf1, kdf2, kdf3, KDF_OUTPUT_BYTES } from '../../src/wireguard/hkdf.js';
import { hex, toHexStr } from '../swim/spec-fixtures.js';

const TV20_SHARED = '5166f24a6918368e2af831a4affadd97af0ac326bdf143596c045967cc00230e';
const LABEL = new TextEncoder().encode('meshguard-app-v1');

/** OpenSSL's HMAC/HKDF, independent of @noble/hashes. */
const opensslHmac = (key: Uint8Array, data: Uint8Array): Uint8Array =>
  new Uint8Array(createHmac('blake2s256', key).update(data).digest());
const opensslHkdf = (key: Uint8Array, input: Uint8Array, length: number): Uint8Array =>
  new Uint8Array(hkdfSync('blake2s256', input, key, new Uint8Array(0), length));

test('TV20: T1 and T2 of KDF(shared, "meshguard-app-v1")', () => {
  const [t1, t2] = kdf2(hex(TV20_SHARED), LABEL);
  assert.equal(toHexStr(t1), 'bcb6dfeb251fbaa289bca8588784e8dfe93d9c5581ea3bc06475faa625899a29');
  assert.equal(toHexStr(t2), '3724b2f33dcd371f05ba5215beacb00612b17fe6676586c81cdf6231b971a1cc');
});

test('outputs follow the whitepaper recurrence τ1 = HMAC(τ0, 1), τi = HMAC(τ0, τi-1 ‖ i)', () => {
  const key = hex(TV20_SHARED);
  const t0 = opensslHmac(key, LABEL);
  const t1 = opensslHmac(t0, Uint8Array.of(1));
  const t2 = opensslHmac(t0, concatBytes(t1, Uint8Array.of(2)));
  const t3 = opensslHmac(t0, concatBytes(t2, Uint8Array.of(3)));
  assert.deepEqual(kdf3(key, LABEL), [t1, t2, t3]);
});

test('outputs are independent arrays of 32 bytes', () => {
  const [a, b, c] = kdf3(new Uint8Array(32), new Uint8Array(0));
  for (const t of [a, b, c]) assert.equal(t.length, KDF_OUTPUT_BYTES);
  a.fill(0);
  assert.notDeepEqual(b, a);
  assert.deepEqual(kdf3(new Uint8Array(32), new Uint8Array(0))[1], b);
});

test('property: HMAC-BLAKE2s agrees with OpenSSL, including keys longer than the block', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ maxLength: 200 }), (key, data) => {
      assert.deepEqual(hmacBlake2s(key, data), opensslHmac(key, data));
    }),
  );
});

test('property: kdf1/2/3 equal RFC 5869 HKDF-BLAKE2s (salt = key, ikm = input, no info)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 128 }), (key, input) => {
      const expected = opensslHkdf(key, input, 3 * KDF_OUTPUT_BYTES);
      const [t1, t2, t3] = kdf3(key, input);
      assert.deepEqual(concatBytes(t1, t2, t3), expected);
      assert.deepEqual(kdf2(key, input), [t1, t2]);
      assert.deepEqual(kdf1(key, input), [t1]);
    }),
  );
});
