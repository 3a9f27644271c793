import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError } from '@meshguard/core';
import {
  decodeEndpoint,
  encodeEndpoint,
  ENDPOINT_BYTES,
  formatEndpoint,
  type Endpoint,
} from '../../src/swim/endpoint-codec.js';
import { arbBytesAround, arbEndpoint } from './arbitraries.js';
import { assertDecodeError, decodesOrRejects, hex, toHexStr } from './spec-fixtures.js';

test('IPv4 endpoint layout (from TV13: 203.0.113.7:51821)', () => {
  const bytes = hex('0104cb0071070000000000000000000000006dca');
  const ep = decodeEndpoint(bytes);
  assert.deepEqual(ep, { family: 4, address: '203.0.113.7', port: 51821 });
  assert.equal(toHexStr(encodeEndpoint(ep)), toHexStr(bytes));
  assert.equal(formatEndpoint(ep), '203.0.113.7:51821');
});

test('IPv6 endpoint layout (from TV13: K2 mesh IPv6, port 51821)', () => {
  const bytes = hex('0106fd996d67000000001027e035b26b605d6dca');
  const ep = decodeEndpoint(bytes);
  assert.deepEqual(ep, { family: 6, address: 'fd99:6d67::1027:e035:b26b:605d', port: 51821 });
  assert.equal(toHexStr(encodeEndpoint(ep)), toHexStr(bytes));
  assert.equal(formatEndpoint(ep), '[fd99:6d67::1027:e035:b26b:605d]:51821');
  // Non-canonical input text encodes the same bytes.
  const loose: Endpoint = { family: 6, address: 'FD99:6D67:0:0:1027:E035:B26B:605D', port: 51821 };
  assert.equal(toHexStr(encodeEndpoint(loose)), toHexStr(bytes));
});

test('absent endpoint is 20 zero bytes, and a zero present byte means absent whatever follows', () => {
  assert.equal(toHexStr(encodeEndpoint(null)), '00'.repeat(ENDPOINT_BYTES));
  assert.equal(decodeEndpoint(new Uint8Array(ENDPOINT_BYTES)), null);
  const junk = new Uint8Array(ENDPOINT_BYTES).fill(0xff);
  junk[0] = 0;
  assert.equal(decodeEndpoint(junk), null);
});

test('decoder leniency mirrors the reference: any non-zero present byte, any non-6 family is IPv4', () => {
  const bytes = hex('7f09cb007107ffffffffffffffffffffffff6dca');
  assert.deepEqual(decodeEndpoint(bytes), { family: 4, address: '203.0.113.7', port: 51821 });
});

test('decoder requires exactly 20 bytes', () => {
  assertDecodeError(() => decodeEndpoint(new Uint8Array(19)));
  assertDecodeError(() => decodeEndpoint(new Uint8Array(21)));
});

test('encoder refuses addresses of the wrong family and out-of-range ports', () => {
  const bad: Endpoint[] = [
    { family: 4, address: '::1', port: 1 },
    { family: 6, address: '1.2.3.4', port: 1 },
    { family: 4, address: 'localhost', port: 1 },
    { family: 4, address: '1.2.3.4', port: 65536 },
    { family: 4, address: '1.2.3.4', port: -1 },
    { family: 4, address: '1.2.3.4', port: 1.5 },
  ];
  for (const ep of bad) assert.throws(() => encodeEndpoint(ep), ArgumentError, JSON.stringify(ep));
});

test('property: decode ∘ encode is the identity on endpoints', () => {
  fc.assert(
    fc.property(fc.option(arbEndpoint, { nil: null }), (ep) => {
      const bytes = encodeEndpoint(ep);
      assert.equal(bytes.length, ENDPOINT_BYTES);
      assert.deepEqual(decodeEndpoint(bytes), ep);
    }),
  );
});

test('property: decodeEndpoint returns or throws DecodeError for any bytes', () => {
  fc.assert(fc.property(arbBytesAround(ENDPOINT_BYTES), (b) => decodesOrRejects(() => decodeEndpoint(b))));
});
