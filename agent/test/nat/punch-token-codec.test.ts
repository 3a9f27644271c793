import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { blake3 } from '@noble/hashes/blake3.js';
import { ArgumentError, meshAddresses } from '@meshguard/core';
import {
  decodeMgcpProbe,
  decodePunchToken,
  decodePunchUri,
  encodeMgcpProbe,
  encodePunchToken,
  encodePunchUri,
  PUNCH_TOKEN_V1_BYTES,
  type PunchToken,
} from '../../src/nat/punch-token-codec.js';
import {
  arbBytesAround,
  arbIPv4Endpoint,
  arbIPv4Text,
  arbKey,
  arbNatType,
  arbU64,
  record,
} from '../swim/arbitraries.js';
import { assertDecodeError, decodesOrRejects, hex, K1, K1_WG, toHexStr } from '../swim/spec-fixtures.js';

const TV17_TOKEN =
  '01d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511ad85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62ecb0071079c400a636c310000000067b64b3c003c01020304050607084a7dfa814b6601bc21fdc6769f';
const TV17_URI =
  'mg://AddamAGCsQq31Uv-08lkBzoO4XLz2qYjJa8CGmj3B1Ea2F4H7CKwrYgVN8L0TWYtGhQ8-DDFespDBdhcepD2ti7LAHEHnEAKY2wxAAAAAGe2SzwAPAECAwQFBgcISn36gUtmAbwh_cZ2nw';
const TV17_MGCP = '4d47435001020304050607086c310412';
const NONCE = hex('0102030405060708');

const tv17: PunchToken = {
  version: 1,
  identityPublicKey: K1.publicKey,
  wgPublicKey: K1_WG.publicKey,
  mapped: { family: 4, address: '203.0.113.7', port: 40000 },
  meshIPv4: meshAddresses(K1.publicKey).ipv4,
  punchTime: 1740000060n,
  punchWindow: 60,
  nonce: NONCE,
  stunServer: { family: 4, address: '74.125.250.129', port: 19302 },
  natType: 'cone',
};

test('TV17 token: built from its fields, 106 bytes, check value bc21fdc6769f', () => {
  const bytes = encodePunchToken(tv17);
  assert.equal(bytes.length, PUNCH_TOKEN_V1_BYTES);
  assert.equal(toHexStr(bytes), TV17_TOKEN);
  assert.equal(toHexStr(bytes.subarray(100)), 'bc21fdc6769f');
});

test('TV17 token decodes field by field', () => {
  const t = decodePunchToken(hex(TV17_TOKEN));
  assert.deepEqual(t, tv17);
  assert.equal(t.meshIPv4, '10.99.108.49');
  assert.equal(toHexStr(encodePunchToken(t)), TV17_TOKEN);
});

test('TV17 URI: 147 characters, both directions', () => {
  assert.equal(encodePunchUri(tv17), TV17_URI);
  assert.equal(TV17_URI.length, 147);
  assert.deepEqual(decodePunchUri(TV17_URI), tv17);
});

test('TV17 MGCP probe for K1', () => {
  const probe = encodeMgcpProbe(NONCE, K1.publicKey);
  assert.equal(toHexStr(probe), TV17_MGCP);
  assert.deepEqual(decodeMgcpProbe(probe), { nonce: NONCE, keyTag: hex('6c310412') });
});

test('a bad check value, or any damaged byte, is rejected', () => {
  for (const at of [0, 1, 50, 99, 100, 105]) {
    const b = hex(TV17_TOKEN);
    b[at] = b[at]! ^ 0x01;
    assertDecodeError(() => decodePunchToken(b), /check value/);
  }
  assertDecodeError(() => decodePunchToken(hex(TV17_TOKEN).subarray(0, 105)), /106/);
  assertDecodeError(() => decodePunchToken(Uint8Array.of(...hex(TV17_TOKEN), 0)), /106/);
});

test('version is not checked; unknown NAT codes read as unknown', () => {
  const v2 = decodePunchToken(encodePunchToken({ ...tv17, version: 2 }));
  assert.equal(v2.version, 2);
  const raw = hex(TV17_TOKEN);
  raw[99] = 9;
  raw.set(blake3(raw.subarray(0, 100)).subarray(0, 6), 100);
  assert.equal(decodePunchToken(raw).natType, 'unknown');
});

test('URI rejections: scheme, length, padding, alphabet, non-canonical bits', () => {
  const payload = TV17_URI.slice(5);
  assertDecodeError(() => decodePunchUri(payload), /mg:\/\//);
  assertDecodeError(() => decodePunchUri('MG://' + payload), /mg:\/\//);
  assertDecodeError(() => decodePunchUri(TV17_URI + '=='), /142/);
  assertDecodeError(() => decodePunchUri(TV17_URI.slice(0, -1)), /142/);
  assertDecodeError(() => decodePunchUri(` ${TV17_URI}`), /mg:\/\//);
  assertDecodeError(() => decodePunchUri(TV17_URI.replace('-', '+')), /base64url/);
  assertDecodeError(() => decodePunchUri(TV17_URI.slice(0, -3) + '*nw'), /base64url/);
  // Last char 'w' carries 2 data bits + 4 zero bits; 'x' sets a padding bit.
  assertDecodeError(() => decodePunchUri(TV17_URI.slice(0, -1) + 'x'), /canonical/);
  const flipped = TV17_URI.slice(0, 20) + (TV17_URI[20] === 'A' ? 'B' : 'A') + TV17_URI.slice(21);
  assertDecodeError(() => decodePunchUri(flipped), /check value/);
});

test('encoder refuses non-IPv4 addresses and out-of-range fields', () => {
  assert.throws(() => encodePunchToken({ ...tv17, meshIPv4: 'fd99::1' }), ArgumentError);
  assert.throws(() => encodePunchToken({ ...tv17, mapped: { family: 4, address: '::1', port: 1 } }), ArgumentError);
  assert.throws(() => encodePunchToken({ ...tv17, punchTime: -1n }), ArgumentError);
  assert.throws(() => encodePunchToken({ ...tv17, punchWindow: 65536 }), ArgumentError);
  assert.throws(() => encodePunchToken({ ...tv17, version: 256 }), ArgumentError);
  assert.throws(() => encodePunchToken({ ...tv17, nonce: new Uint8Array(7) }), ArgumentError);
  assert.throws(() => encodeMgcpProbe(new Uint8Array(8), new Uint8Array(31)), ArgumentError);
});

test('MGCP probe: at least 16 bytes with the magic; longer datagrams count', () => {
  const probe = hex(TV17_MGCP);
  assert.deepEqual(decodeMgcpProbe(Uint8Array.of(...probe, 0xaa)).nonce, NONCE);
  assertDecodeError(() => decodeMgcpProbe(probe.subarray(0, 15)));
  const wrong = probe.slice();
  wrong[0] = 0x6d;
  assertDecodeError(() => decodeMgcpProbe(wrong), /magic/);
});

const arbToken: fc.Arbitrary<PunchToken> = record({
  version: fc.integer({ min: 0, max: 255 }),
  identityPublicKey: arbKey,
  wgPublicKey: arbKey,
  mapped: arbIPv4Endpoint,
  meshIPv4: arbIPv4Text,
  punchTime: arbU64,
  punchWindow: fc.integer({ min: 0, max: 0xffff }),
  nonce: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  stunServer: arbIPv4Endpoint,
  natType: arbNatType,
});

test('property: token and URI round-trip', () => {
  fc.assert(
    fc.property(arbToken, (t) => {
      assert.deepEqual(decodePunchToken(encodePunchToken(t)), t);
      const uri = encodePunchUri(t);
      assert.equal(uri.length, 147);
      assert.deepEqual(decodePunchUri(uri), t);
    }),
  );
});

test('property: MGCP probe round-trip', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), arbKey, (nonce, key) => {
      assert.deepEqual(decodeMgcpProbe(encodeMgcpProbe(nonce, key)).nonce, nonce);
    }),
  );
});

test('property: token, URI and probe decoders return or throw DecodeError for any input', () => {
  fc.assert(fc.property(arbBytesAround(PUNCH_TOKEN_V1_BYTES), (b) => decodesOrRejects(() => decodePunchToken(b))));
  const nearUri = fc.oneof(
    fc.string({ maxLength: 160 }),
    fc.string({ maxLength: 160 }).map((s) => `mg://${s}`),
    fc.stringMatching(/^mg:\/\/[A-Za-z0-9_=+/-]{140,144}$/),
    fc.uint8Array({ minLength: 106, maxLength: 106 }).map((b) => `mg://${Buffer.from(b).toString('base64url')}`),
  );
  fc.assert(fc.property(nearUri, (s) => decodesOrRejects(() => decodePunchUri(s))));
  const magic = fc.uint8Array({ maxLength: 30 }).map((b) => Uint8Array.of(0x4d, 0x47, 0x43, 0x50, ...b));
  fc.assert(
    fc.property(fc.oneof(magic, fc.uint8Array({ maxLength: 30 })), (b) => decodesOrRejects(() => decodeMgcpProbe(b))),
  );
});
