import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, sign, verify } from '@meshguard/core';
import {
  decodeRelayFrame,
  encodeRelayFrame,
  RELAY_MAX_FRAME_BYTES,
  RELAY_MAX_PAYLOAD_BYTES,
  registrationSignedBytes,
  type RelayFrame,
} from '../../src/nat/relay-codec.js';
import { arbEndpoint, arbKey, record } from '../swim/arbitraries.js';
import { assertDecodeError, counting, decodesOrRejects, hex, K1, K2, toHexStr } from '../swim/spec-fixtures.js';

const TV16_FRAME =
  '31d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c00200400000000000000000000000000000000000000000000000000000000000000';
const TV16_REGISTRATION =
  'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a04cb007107000000000000000000000000ca6d000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';
const TV16_SIGNATURE =
  'ad1ebe1b2d2166428dcd38f0ee81b27176327b4c5a53c1371f98e38ce10240b347bab65da6346c90c344c69d8c8afa774fbbb8be04bf127631855f19bb01ba04';

/** A WireGuard-looking payload: LE32 type 1-4, then anything. */
const wgPayload = (type: number, length: number): Uint8Array => {
  const p = new Uint8Array(length);
  p[0] = type;
  return p;
};

/** Built by hand, so that frames the encoder would refuse can be fed to the decoder. */
function rawFrame(payload: Uint8Array, declared: number = payload.length): Uint8Array {
  const out = new Uint8Array(67 + payload.length);
  out[0] = 0x31;
  out.set(K1.publicKey, 1);
  out.set(K2.publicKey, 33);
  out[65] = declared >> 8;
  out[66] = declared & 0xff;
  out.set(payload, 67);
  return out;
}

const frameBytes = (payloadLength: number, declared: number = payloadLength, type = 4): Uint8Array =>
  rawFrame(wgPayload(type, payloadLength), declared);

test('TV16 relay frame K1→K2 with a 32-byte type-4 stub (99 bytes)', () => {
  const f = decodeRelayFrame(hex(TV16_FRAME));
  assert.deepEqual(f.senderPublicKey, K1.publicKey);
  assert.deepEqual(f.targetPublicKey, K2.publicKey);
  assert.deepEqual(f.payload, wgPayload(4, 32));
  assert.equal(toHexStr(encodeRelayFrame(f)), TV16_FRAME);
  const built = encodeRelayFrame({
    senderPublicKey: K1.publicKey,
    targetPublicKey: K2.publicKey,
    payload: wgPayload(4, 32),
  });
  assert.equal(toHexStr(built), TV16_FRAME);
  assert.equal(built.length, 99);
});

test('TV16 registration signed bytes (83 bytes) and K1 signature', () => {
  const bytes = registrationSignedBytes(K1.publicKey, { family: 4, address: '203.0.113.7', port: 51821 }, counting(32));
  assert.equal(toHexStr(bytes), TV16_REGISTRATION);
  assert.equal(toHexStr(sign(bytes, K1.seed)), TV16_SIGNATURE);
  assert.ok(verify(hex(TV16_SIGNATURE), bytes, K1.publicKey));
});

test('registration bytes carry IPv6 addresses in full and refuse bad arguments', () => {
  const v6 = registrationSignedBytes(K1.publicKey, { family: 6, address: 'fd99:6d67::1', port: 0x1234 }, counting(32));
  assert.equal(toHexStr(v6.subarray(32, 51)), '06fd996d670000000000000000000000011234');
  assert.throws(
    () => registrationSignedBytes(K1.publicKey, { family: 4, address: '1.2.3.4', port: 1 }, counting(31)),
    ArgumentError,
  );
  assert.throws(
    () => registrationSignedBytes(K1.publicKey, { family: 4, address: '1.2.3.4', port: 70000 }, counting(32)),
    ArgumentError,
  );
});

test('length rules: header ≥ 67, payload_len ≤ 2048, total exactly 67 + len', () => {
  assertDecodeError(() => decodeRelayFrame(hex(TV16_FRAME).subarray(0, 66)));
  assertDecodeError(() => decodeRelayFrame(frameBytes(32, 33)), /header says 33/);
  assertDecodeError(() => decodeRelayFrame(frameBytes(32, 31)), /header says 31/);
  assertDecodeError(() => decodeRelayFrame(Uint8Array.of(...hex(TV16_FRAME), 0)), /header says/);
  const max = frameBytes(RELAY_MAX_PAYLOAD_BYTES);
  assert.equal(max.length, RELAY_MAX_FRAME_BYTES);
  assert.equal(decodeRelayFrame(max).payload.length, 2048);
  assertDecodeError(() => decodeRelayFrame(frameBytes(2049)), /exceeds/);
  assertDecodeError(() => decodeRelayFrame(frameBytes(32, 0xffff)), /exceeds/);
});

test('payload must be a WireGuard message: ≥ 4 bytes, LE32 type 1-4', () => {
  for (const type of [1, 2, 3, 4]) assert.equal(decodeRelayFrame(frameBytes(4, 4, type)).payload[0], type);
  assertDecodeError(() => decodeRelayFrame(frameBytes(0)), /shorter/);
  assertDecodeError(() => decodeRelayFrame(frameBytes(3)), /shorter/);
  for (const first of [0x00, 0x05, 0xff]) {
    const b = frameBytes(32);
    b[67] = first;
    assertDecodeError(() => decodeRelayFrame(b), /WireGuard/);
  }
  const highByte = frameBytes(32);
  highByte[70] = 1; // LE32 type 0x01000004
  assertDecodeError(() => decodeRelayFrame(highByte), /WireGuard/);
  const wrongTag = hex(TV16_FRAME);
  wrongTag[0] = 0x30;
  assertDecodeError(() => decodeRelayFrame(wrongTag), /tag/);
});

test('encoder refuses payloads the decoder would refuse', () => {
  const base = { senderPublicKey: K1.publicKey, targetPublicKey: K2.publicKey };
  assert.throws(() => encodeRelayFrame({ ...base, payload: wgPayload(4, 2049) }), ArgumentError);
  assert.throws(() => encodeRelayFrame({ ...base, payload: wgPayload(5, 32) }), ArgumentError);
  assert.throws(() => encodeRelayFrame({ ...base, payload: wgPayload(1, 3) }), ArgumentError);
  assert.throws(
    () => encodeRelayFrame({ ...base, senderPublicKey: new Uint8Array(1), payload: wgPayload(1, 32) }),
    ArgumentError,
  );
});

const arbPayload = fc
  .tuple(fc.integer({ min: 1, max: 4 }), fc.uint8Array({ maxLength: RELAY_MAX_PAYLOAD_BYTES - 4 }))
  .map(([type, rest]) => Uint8Array.of(type, 0, 0, 0, ...rest));

test('property: decode ∘ encode is the identity on relay frames', () => {
  const arbFrame: fc.Arbitrary<RelayFrame> = record({
    senderPublicKey: arbKey,
    targetPublicKey: arbKey,
    payload: arbPayload,
  });
  fc.assert(fc.property(arbFrame, (f) => assert.deepEqual(decodeRelayFrame(encodeRelayFrame(f)), f)));
});

test('property: registration bytes are 83 bytes with the endpoint in place', () => {
  fc.assert(
    fc.property(arbKey, arbEndpoint, fc.uint8Array({ minLength: 32, maxLength: 32 }), (key, ep, challenge) => {
      const b = registrationSignedBytes(key, ep, challenge);
      assert.equal(b.length, 83);
      assert.equal(b[32], ep.family);
      assert.equal((b[49]! << 8) | b[50]!, ep.port);
      assert.deepEqual(b.subarray(51), challenge);
    }),
  );
});

test('property: decodeRelayFrame returns or throws DecodeError for any bytes', () => {
  const consistent = fc
    .tuple(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ maxLength: 300 }))
    .map(([keys, payload]) => Uint8Array.of(0x31, ...keys, payload.length >> 8, payload.length & 0xff, ...payload));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), consistent), (b) =>
      decodesOrRejects(() => decodeRelayFrame(b)),
    ),
  );
});
