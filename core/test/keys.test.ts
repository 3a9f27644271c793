import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  assertValidWireGuardPublicKey,
  decodeBase64Exact,
  decodePublicKeyText,
  decodeSecretKeyFile,
  DecodeError,
  deriveWireGuardKeyPair,
  InvalidKeyError,
  isValidPublicKey,
  publicKeyProblem,
  sign,
  verify,
  formatIPv6,
  meshAddresses,
} from '../src/index.js';
import { K1, K2 } from './fixtures.js';

describe('base64 strictness', () => {
  it('refuses wrong length, URL alphabet, junk and non-canonical trailing bits', () => {
    const good = Buffer.from(K1.publicKey).toString('base64');
    assert.throws(() => decodeBase64Exact(good.slice(1), 32, 'k'), DecodeError);
    assert.throws(() => decodeBase64Exact(good.replace(/\+|\//g, '-').replace(/^./, '-'), 32, 'k'), DecodeError);
    assert.throws(() => decodeBase64Exact(`${good.slice(0, 42)}!=`, 32, 'k'), DecodeError);
    // '11qY…URo=' with the last char changed so that unused trailing bits are set.
    assert.throws(() => decodeBase64Exact(`${good.slice(0, 42)}p=`, 32, 'k'), DecodeError);
    assert.deepEqual(decodeBase64Exact(good, 32, 'k'), K1.publicKey);
  });
  it('the key-file reader trims trailing whitespace only', () => {
    const good = Buffer.from(K1.publicKey).toString('base64');
    assert.deepEqual(decodePublicKeyText(`${good}\r\n \n`), K1.publicKey);
    assert.throws(() => decodePublicKeyText(` ${good}`), DecodeError);
    assert.throws(() => decodePublicKeyText(''), DecodeError);
  });
});

describe('public key validation (spec §16 fixes)', () => {
  it('refuses the all-zero key, off-curve points and small-order points', () => {
    assert.match(publicKeyProblem(new Uint8Array(32)) ?? '', /all-zero/);
    // y = 2 has no x on the curve.
    const offCurve = new Uint8Array(32);
    offCurve[0] = 2;
    assert.match(publicKeyProblem(offCurve) ?? '', /not a point/);
    // The identity point (y = 1) has order 1.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    assert.match(publicKeyProblem(identity) ?? '', /small-order/);
    assert.equal(isValidPublicKey(K1.publicKey), true);
    assert.throws(() => decodePublicKeyText(Buffer.from(offCurve).toString('base64')), InvalidKeyError);
  });
  it('a secret key file whose public half does not match its seed is refused', () => {
    const mismatched = Buffer.concat([K1.seed, K2.publicKey]).toString('base64');
    assert.throws(() => decodeSecretKeyFile(mismatched), InvalidKeyError);
  });
});

describe('signatures', () => {
  it('verify accepts honest signatures and refuses tampering', () => {
    const msg = new TextEncoder().encode('hello');
    const sig = sign(msg, K1.seed);
    assert.equal(verify(sig, msg, K1.publicKey), true);
    assert.equal(verify(sig, msg, K2.publicKey), false);
    const bad = Uint8Array.from(sig);
    bad[5]! ^= 1;
    assert.equal(verify(bad, msg, K1.publicKey), false);
    // S ≥ L (non-canonical) is refused: set the top byte of S high.
    const bigS = Uint8Array.from(sig);
    bigS[63] = 0xff;
    assert.equal(verify(bigS, msg, K1.publicKey), false);
  });
});

describe('WireGuard keys', () => {
  it('derived public key equals the Montgomery form of the identity key', () => {
    const wg = deriveWireGuardKeyPair(K1.seed);
    assert.deepEqual(wg.publicKey, x25519.getPublicKey(wg.privateKey));
  });
  it('refuses zero and small-order X25519 keys', () => {
    assert.throws(() => assertValidWireGuardPublicKey(new Uint8Array(32), 'k'), InvalidKeyError);
    const one = new Uint8Array(32);
    one[0] = 1; // u = 1 is of small order
    assert.throws(() => assertValidWireGuardPublicKey(one, 'k'), InvalidKeyError);
    assert.throws(() => assertValidWireGuardPublicKey(new Uint8Array(31), 'k'), InvalidKeyError);
    assertValidWireGuardPublicKey(deriveWireGuardKeyPair(K1.seed).publicKey, 'k');
  });
});

describe('addresses', () => {
  it('formats IPv6 per RFC 5952', () => {
    const b = new Uint8Array(16);
    assert.equal(formatIPv6(b), '::');
    b[15] = 1;
    assert.equal(formatIPv6(b), '::1');
    b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert.equal(formatIPv6(b), '2001:db8:0:1::1');
  });
  it('IPv4 stays in 10.99.0.0/16 with host octets avoiding 0 and 255', () => {
    for (let i = 0; i < 200; i++) {
      const key = Uint8Array.from(Buffer.alloc(32, i));
      const a = meshAddresses(key).ipv4Bytes;
      assert.equal(a[0], 10);
      assert.equal(a[1], 99);
      assert.notEqual(a[2], 0);
      assert.notEqual(a[3], 0);
      assert.notEqual(a[3], 255);
    }
  });
});
