import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError } from '@meshguard/core';
import {
  decodeHolepunchProbe,
  decodeHolepunchRequest,
  decodeHolepunchResponse,
  encodeHolepunchProbe,
  encodeHolepunchRequest,
  encodeHolepunchResponse,
  HOLEPUNCH_REQUEST_BYTES,
  HOLEPUNCH_RESPONSE_BYTES,
  type HolepunchRequest,
  type HolepunchResponse,
} from '../../src/nat/holepunch-codec.js';
import { arbBytesAround, arbEndpoint, arbKey, record } from '../swim/arbitraries.js';
import { assertDecodeError, counting, decodesOrRejects, hex, K1, K2, toHexStr } from '../swim/spec-fixtures.js';

const TV15_REQUEST =
  '33d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c0104c6336401000000000000000000000000409c000102030405060708090a0b0c0d0e0f';
const TV15_RESPONSE =
  '343d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c0104cb00710900000000000000000000000028a0000102030405060708090a0b0c0d0e0f';
const TV15_PROBE = '4d474850000102030405060708090a0b0c0d0e0f';
const arbToken = fc.uint8Array({ minLength: 16, maxLength: 16 });

test('TV15 request K1→K2 decodes field by field and re-encodes (101 bytes)', () => {
  const m = decodeHolepunchRequest(hex(TV15_REQUEST));
  assert.equal(m.kind, 'holepunch-request');
  assert.deepEqual(m.senderPublicKey, K1.publicKey);
  assert.deepEqual(m.targetPublicKey, K2.publicKey);
  assert.deepEqual(m.publicEndpoint, { family: 4, address: '198.51.100.1', port: 40000 });
  assert.deepEqual(m.token, counting(16));
  assert.equal(toHexStr(encodeHolepunchRequest(m)), TV15_REQUEST);
  assert.equal(HOLEPUNCH_REQUEST_BYTES, 101);
});

test('TV15 response from K2 decodes field by field and re-encodes (69 bytes)', () => {
  const m = decodeHolepunchResponse(hex(TV15_RESPONSE));
  assert.equal(m.kind, 'holepunch-response');
  assert.deepEqual(m.senderPublicKey, K2.publicKey);
  assert.deepEqual(m.publicEndpoint, { family: 4, address: '203.0.113.9', port: 41000 });
  assert.deepEqual(m.token, counting(16));
  assert.equal(toHexStr(encodeHolepunchResponse(m)), TV15_RESPONSE);
  assert.equal(HOLEPUNCH_RESPONSE_BYTES, 69);
});

test('TV15 MGHP probe', () => {
  assert.equal(toHexStr(encodeHolepunchProbe(counting(16))), TV15_PROBE);
  assert.deepEqual(decodeHolepunchProbe(hex(TV15_PROBE)), counting(16));
});

test('probe must be exactly 20 bytes with the MGHP magic', () => {
  const probe = hex(TV15_PROBE);
  assertDecodeError(() => decodeHolepunchProbe(probe.subarray(0, 19)));
  assertDecodeError(() => decodeHolepunchProbe(Uint8Array.of(...probe, 0)));
  const wrong = probe.slice();
  wrong[3] = 0x51;
  assertDecodeError(() => decodeHolepunchProbe(wrong), /magic/);
});

test('request/response: endpoint must be present, tag must match, minimum length, trailing ignored', () => {
  const req = hex(TV15_REQUEST);
  const absent = req.slice();
  absent[65] = 0;
  assertDecodeError(() => decodeHolepunchRequest(absent), /absent/);
  assertDecodeError(() => decodeHolepunchRequest(req.subarray(0, 100)));
  assertDecodeError(() => decodeHolepunchResponse(req), /tag/);
  assert.equal(toHexStr(encodeHolepunchRequest(decodeHolepunchRequest(Uint8Array.of(...req, 1, 2, 3)))), TV15_REQUEST);

  const resp = hex(TV15_RESPONSE);
  const absentResp = resp.slice();
  absentResp[33] = 0;
  assertDecodeError(() => decodeHolepunchResponse(absentResp), /absent/);
  assertDecodeError(() => decodeHolepunchResponse(resp.subarray(0, 68)));
  assertDecodeError(() => decodeHolepunchRequest(resp), /need at least|tag/);
});

test('encoders refuse wrong-sized tokens and keys', () => {
  const m = decodeHolepunchRequest(hex(TV15_REQUEST));
  assert.throws(() => encodeHolepunchRequest({ ...m, token: new Uint8Array(15) }), ArgumentError);
  assert.throws(() => encodeHolepunchRequest({ ...m, targetPublicKey: new Uint8Array(0) }), ArgumentError);
  assert.throws(() => encodeHolepunchResponse({ ...m, token: new Uint8Array(17) }), ArgumentError);
  assert.throws(() => encodeHolepunchProbe(new Uint8Array(8)), ArgumentError);
});

test('property: decode ∘ encode is the identity on requests, responses and probes', () => {
  const arbRequest: fc.Arbitrary<HolepunchRequest> = record({
    kind: fc.constant('holepunch-request' as const),
    senderPublicKey: arbKey,
    targetPublicKey: arbKey,
    publicEndpoint: arbEndpoint,
    token: arbToken,
  });
  const arbResponse: fc.Arbitrary<HolepunchResponse> = record({
    kind: fc.constant('holepunch-response' as const),
    senderPublicKey: arbKey,
    publicEndpoint: arbEndpoint,
    token: arbToken,
  });
  fc.assert(fc.property(arbRequest, (m) => assert.deepEqual(decodeHolepunchRequest(encodeHolepunchRequest(m)), m)));
  fc.assert(fc.property(arbResponse, (m) => assert.deepEqual(decodeHolepunchResponse(encodeHolepunchResponse(m)), m)));
  fc.assert(fc.property(arbToken, (t) => assert.deepEqual(decodeHolepunchProbe(encodeHolepunchProbe(t)), t)));
});

test('property: hole-punch decoders return or throw DecodeError for any bytes', () => {
  const withTag = (tag: number, length: number) =>
    arbBytesAround(length).map((b) => (b.length > 0 ? Uint8Array.of(tag, ...b.subarray(1)) : b));
  fc.assert(
    fc.property(fc.oneof(withTag(0x33, 101), fc.uint8Array({ maxLength: 120 })), (b) =>
      decodesOrRejects(() => decodeHolepunchRequest(b)),
    ),
  );
  fc.assert(
    fc.property(fc.oneof(withTag(0x34, 69), fc.uint8Array({ maxLength: 90 })), (b) =>
      decodesOrRejects(() => decodeHolepunchResponse(b)),
    ),
  );
  const magic = arbBytesAround(20).map((b) =>
    b.length >= 4 ? Uint8Array.of(0x4d, 0x47, 0x48, 0x50, ...b.subarray(4)) : b,
  );
  fc.assert(
    fc.property(fc.oneof(magic, fc.uint8Array({ maxLength: 30 })), (b) =>
      decodesOrRejects(() => decodeHolepunchProbe(b)),
    ),
  );
});
