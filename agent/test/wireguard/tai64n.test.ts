import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, toHex } from '@meshguard/core';
import { compareTai64n, TAI64N_BYTES, tai64n, writeTai64n } from '../../src/wireguard/tai64n.js';

const WHITENING_STEP_NS = 2 ** 24;

/** Independent BigInt rendering of wireguard-go's stamp() for integer milliseconds. */
function reference(ms: number): string {
  const seconds = BigInt(Math.floor(ms / 1000));
  const nanos = BigInt((ms % 1000) * 1_000_000) & ~BigInt(WHITENING_STEP_NS - 1);
  return (seconds + 0x400000000000000an).toString(16).padStart(16, '0') + nanos.toString(16).padStart(8, '0');
}

test('the Unix epoch is 400000000000000a00000000', () => {
  assert.equal(toHex(tai64n(0)), '400000000000000a00000000');
});

test('known instants', () => {
  // 1_700_000_000 s = 0x6553f100; 123 ms = 0x0754d4c0 ns, whitened to 0x07000000.
  assert.equal(toHex(tai64n(1_700_000_000_123)), '400000006553f10a07000000');
  // 999 ms = 0x3b8b87c0 ns, whitened to 0x3b000000.
  assert.equal(toHex(tai64n(1_999)), '400000000000000b3b000000');
  // The low 32 bits of the seconds carry into the high word: 2^32 − 10 s + 10 = 2^32.
  assert.equal(toHex(tai64n((2 ** 32 - 10) * 1000)), '400000010000000000000000');
  assert.equal(toHex(tai64n((2 ** 32 - 11) * 1000)), '40000000ffffffff00000000');
});

test('nanoseconds are whitened to multiples of 2^24 ns', () => {
  // 16 ms < 2^24 ns ≈ 16.78 ms < 17 ms.
  assert.equal(toHex(tai64n(16)), '400000000000000a00000000');
  assert.equal(toHex(tai64n(17)), '400000000000000a01000000');
  assert.equal(toHex(tai64n(16.7)), '400000000000000a00000000');
  assert.equal(toHex(tai64n(16.8)), '400000000000000a01000000');
});

test('fractional milliseconds just below a second never reach 10^9 ns', () => {
  const label = tai64n(999.999_999_999);
  assert.equal(toHex(label), '400000000000000a3b000000');
});

test('writeTai64n writes in place without touching neighbouring bytes', () => {
  const out = new Uint8Array(16).fill(0xee);
  writeTai64n(out, 2, 1_700_000_000_123);
  assert.equal(toHex(out), 'eeee400000006553f10a07000000eeee');
});

test('bad times, offsets and lengths are ArgumentErrors', () => {
  for (const bad of [-1, NaN, Infinity, 8.64e15 + 1]) {
    assert.throws(() => tai64n(bad), ArgumentError, String(bad));
  }
  const out = new Uint8Array(TAI64N_BYTES);
  for (const offset of [-1, 1, 0.5]) assert.throws(() => writeTai64n(out, offset, 0), ArgumentError);
  assert.throws(() => compareTai64n(new Uint8Array(11), out), ArgumentError);
  assert.throws(() => compareTai64n(out, new Uint8Array(13)), ArgumentError);
});

test('compareTai64n orders chronologically and is unsigned byte-wise', () => {
  const a = tai64n(1_000);
  const b = tai64n(2_000);
  assert.ok(compareTai64n(a, b) < 0);
  assert.ok(compareTai64n(b, a) > 0);
  assert.equal(compareTai64n(a, tai64n(1_000)), 0);
  // 0x80 must sort above 0x7f: a signed comparison would get this backwards.
  const low = new Uint8Array(TAI64N_BYTES).fill(0x7f);
  const high = new Uint8Array(TAI64N_BYTES).fill(0x7f);
  high[11] = 0x80;
  assert.ok(compareTai64n(high, low) > 0);
});

test('within one whitening step timestamps are equal; across it strictly greater', () => {
  const start = 1_700_000_000_000; // a whole second: the step boundary at 0 ns
  assert.equal(compareTai64n(tai64n(start), tai64n(start + 16)), 0);
  assert.ok(compareTai64n(tai64n(start + 17), tai64n(start)) > 0);
});

test('property: agrees with a BigInt reference', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8.64e15 }), (ms) => {
      assert.equal(toHex(tai64n(ms)), reference(ms));
    }),
    { numRuns: 2000 },
  );
});

test('property: monotonic — a later time never yields a smaller label', () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 8.64e15, noNaN: true }),
      fc.double({ min: 0, max: 1e9, noNaN: true }),
      (t, d) => {
        assert.ok(compareTai64n(tai64n(t), tai64n(Math.min(t + d, 8.64e15))) <= 0);
      },
    ),
    { numRuns: 2000 },
  );
});
