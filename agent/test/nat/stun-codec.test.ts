import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, concatBytes } from '@meshguard/core';
import { decodeStunBindingResponse, encodeStunBindingRequest } from '../../src/nat/stun-codec.js';
import { arbPort } from '../swim/arbitraries.js';
import { assertDecodeError, counting, decodesOrRejects, hex, toHexStr } from '../swim/spec-fixtures.js';

const TXID = counting(12);
const TV18_REQUEST = '000100002112a442000102030405060708090a0b';
const TV18_RESPONSE = '0101000c2112a442000102030405060708090a0b002000080001112bea12d568';

const be16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);
const attribute = (type: number, value: Uint8Array): Uint8Array => {
  const padded = new Uint8Array((value.length + 3) & ~3);
  padded.set(value);
  return concatBytes(be16(type), be16(value.length), padded);
};
/** Binding Success with the given attributes; `declared` overrides the header length. */
const response = (attrs: readonly Uint8Array[], declared?: number): Uint8Array => {
  const body = concatBytes(...attrs);
  return concatBytes(be16(0x0101), be16(declared ?? body.length), hex('2112a442'), TXID, body);
};
const mapped = (a: number[], port: number): Uint8Array => Uint8Array.of(0, 1, port >> 8, port & 0xff, ...a);
const xorMapped = (a: number[], port: number): Uint8Array =>
  mapped([a[0]! ^ 0x21, a[1]! ^ 0x12, a[2]! ^ 0xa4, a[3]! ^ 0x42], port ^ 0x2112);

test('TV18 binding request', () => {
  assert.equal(toHexStr(encodeStunBindingRequest(TXID)), TV18_REQUEST);
  assert.throws(() => encodeStunBindingRequest(new Uint8Array(11)), ArgumentError);
});

test('TV18 response: XOR-MAPPED-ADDRESS 203.0.113.42:12345', () => {
  assert.deepEqual(decodeStunBindingResponse(hex(TV18_RESPONSE), TXID), {
    mapped: { family: 4, address: '203.0.113.42', port: 12345 },
    attribute: 'xor-mapped-address',
  });
  // Our own builder reproduces the vector, so the helpers below are trustworthy.
  assert.equal(toHexStr(response([attribute(0x20, xorMapped([203, 0, 113, 42], 12345))])), TV18_RESPONSE);
});

test('MAPPED-ADDRESS is read without XOR', () => {
  const r = decodeStunBindingResponse(response([attribute(0x01, mapped([198, 51, 100, 1], 40000))]), TXID);
  assert.deepEqual(r, { mapped: { family: 4, address: '198.51.100.1', port: 40000 }, attribute: 'mapped-address' });
});

test('the first address attribute wins, whichever kind it is', () => {
  const m = attribute(0x01, mapped([1, 1, 1, 1], 1111));
  const x = attribute(0x20, xorMapped([2, 2, 2, 2], 2222));
  assert.equal(decodeStunBindingResponse(response([m, x]), TXID).mapped.address, '1.1.1.1');
  assert.equal(decodeStunBindingResponse(response([x, m]), TXID).mapped.address, '2.2.2.2');
});

test('unknown attributes are skipped on 4-byte boundaries', () => {
  const software = attribute(0x8022, new TextEncoder().encode('hello')); // 5 bytes, padded to 8
  const r = decodeStunBindingResponse(response([software, attribute(0x20, xorMapped([9, 8, 7, 6], 5))]), TXID);
  assert.deepEqual(r.mapped, { family: 4, address: '9.8.7.6', port: 5 });
});

test('rejections: short, wrong type, wrong cookie, wrong transaction ID', () => {
  const good = hex(TV18_RESPONSE);
  assertDecodeError(() => decodeStunBindingResponse(good.subarray(0, 19), TXID));
  const type = good.slice();
  type[1] = 0x11; // 0x0111 Binding Error
  assertDecodeError(() => decodeStunBindingResponse(type, TXID), /Binding Success/);
  assertDecodeError(() => decodeStunBindingResponse(hex(TV18_REQUEST), TXID), /Binding Success/);
  const cookie = good.slice();
  cookie[7] = 0x43;
  assertDecodeError(() => decodeStunBindingResponse(cookie, TXID), /cookie/);
  const other = TXID.slice();
  other[11] = 0xff;
  assertDecodeError(() => decodeStunBindingResponse(good, other), /transaction/);
  assert.throws(() => decodeStunBindingResponse(good, new Uint8Array(16)), ArgumentError);
});

test('IPv6 family is not usable; an IPv4 attribute after it still is', () => {
  const v6 = attribute(0x20, Uint8Array.of(0, 2, 0x11, 0x2b, ...new Uint8Array(16)));
  assertDecodeError(() => decodeStunBindingResponse(response([v6]), TXID), /no IPv4/);
  const v4 = attribute(0x01, mapped([5, 6, 7, 8], 9));
  assert.equal(decodeStunBindingResponse(response([v6, v4]), TXID).mapped.address, '5.6.7.8');
});

test('no address attribute, or none inside the declared length, is a DecodeError', () => {
  assertDecodeError(() => decodeStunBindingResponse(response([]), TXID), /no IPv4/);
  const x = attribute(0x20, xorMapped([1, 2, 3, 4], 5));
  assertDecodeError(() => decodeStunBindingResponse(response([x], 0), TXID), /no IPv4/);
  assertDecodeError(() => decodeStunBindingResponse(response([x], 8), TXID), /no IPv4/);
});

test('a declared length beyond the datagram is clamped, never read past', () => {
  const x = attribute(0x20, xorMapped([1, 2, 3, 4], 5));
  assert.equal(decodeStunBindingResponse(response([x], 0xffff), TXID).mapped.address, '1.2.3.4');
  const truncated = response([x], 0xffff).subarray(0, 20 + 10);
  assertDecodeError(() => decodeStunBindingResponse(truncated, TXID), /no IPv4/);
});

test('an address attribute shorter than 8 bytes is not used', () => {
  const short = attribute(0x20, Uint8Array.of(0, 1, 0, 0));
  assertDecodeError(() => decodeStunBindingResponse(response([short]), TXID), /no IPv4/);
});

test('property: XOR-MAPPED and MAPPED addresses round-trip', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
      arbPort,
      fc.boolean(),
      (a, port, xor) => {
        const attr = xor ? attribute(0x20, xorMapped(a, port)) : attribute(0x01, mapped(a, port));
        const r = decodeStunBindingResponse(response([attr]), TXID);
        assert.deepEqual(r.mapped, { family: 4, address: a.join('.'), port });
      },
    ),
  );
});

test('property: decodeStunBindingResponse returns or throws DecodeError for any bytes', () => {
  const withHeader = fc
    .tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 200 }))
    .map(([declared, body]) => concatBytes(be16(0x0101), be16(declared), hex('2112a442'), TXID, body));
  const attrs = fc
    .array(fc.tuple(fc.constantFrom(0x01, 0x20, 0x8022, 0x0000), fc.uint8Array({ maxLength: 24 })), { maxLength: 6 })
    .map((list) => response(list.map(([t, v]) => attribute(t, v))));
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), withHeader, attrs), (b) =>
      decodesOrRejects(() => decodeStunBindingResponse(b, TXID)),
    ),
  );
});
