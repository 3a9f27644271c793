import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, TokenBucket } from '../src/index.js';

const T0 = 1_000_000; // an arbitrary monotonic-clock reading

function takeAll(bucket: TokenBucket, nowMs: number, attempts: number): number {
  let taken = 0;
  for (let i = 0; i < attempts; i++) if (bucket.take(nowMs)) taken++;
  return taken;
}

test('TokenBucket: starts full, bursts to capacity, then refuses', () => {
  const b = new TokenBucket(3, 100);
  assert.equal(b.available(T0), 3);
  assert.equal(takeAll(b, T0, 10), 3);
  assert.equal(b.take(T0), false);
});

test('TokenBucket: one token per interval, and not before', () => {
  const b = new TokenBucket(3, 100);
  takeAll(b, T0, 3);
  assert.equal(b.take(T0 + 99), false);
  assert.equal(b.take(T0 + 100), true);
  assert.equal(b.take(T0 + 100), false);
  assert.equal(takeAll(b, T0 + 300, 10), 2);
});

test('TokenBucket: partial intervals are kept, so refill does not drift', () => {
  const b = new TokenBucket(3, 100);
  takeAll(b, T0, 3);
  assert.equal(b.take(T0 + 150), true); // one interval elapsed, 50 ms of the next already waited
  assert.equal(b.take(T0 + 199), false);
  assert.equal(b.take(T0 + 200), true);
});

test('TokenBucket: idle time beyond capacity is not banked', () => {
  const b = new TokenBucket(3, 100);
  assert.equal(takeAll(b, T0 + 1_000_000, 10), 3);
  assert.equal(b.take(T0 + 1_000_050), false);
  assert.equal(b.take(T0 + 1_000_100), true);
});

test('TokenBucket: a clock stepping back grants nothing and restarts the interval', () => {
  const b = new TokenBucket(2, 100);
  takeAll(b, T0, 2);
  assert.equal(b.take(T0 - 5000), false);
  assert.equal(b.take(T0 + 50), true, 'elapsed time counts from the stepped-back reading');
  const c = new TokenBucket(2, 100);
  takeAll(c, T0, 2);
  assert.equal(c.take(T0 - 50), false);
  assert.equal(c.take(T0 + 40), false, 'only 90 ms since the restarted interval');
  assert.equal(c.take(T0 + 50), true);
});

test('TokenBucket: refund returns a token, but never above capacity', () => {
  const b = new TokenBucket(2, 100);
  b.take(T0);
  b.refund();
  b.refund();
  assert.equal(b.available(T0), 2);
});

test('TokenBucket: reset refills', () => {
  const b = new TokenBucket(2, 100);
  takeAll(b, T0, 2);
  b.reset();
  assert.equal(takeAll(b, T0, 5), 2);
});

test('TokenBucket: bad parameters are ArgumentErrors', () => {
  for (const [capacity, interval] of [
    [0, 10],
    [1.5, 10],
    [-1, 10],
    [NaN, 10],
    [1, 0],
    [1, -5],
    [1, Infinity],
    [1, NaN],
  ] as const) {
    assert.throws(() => new TokenBucket(capacity, interval), ArgumentError, `${capacity}, ${interval}`);
  }
});

test('property: TokenBucket never exceeds capacity + elapsed/interval over any window', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 1, max: 500 }),
      fc.array(fc.nat({ max: 300 }), { maxLength: 300 }),
      (capacity, interval, gaps) => {
        const b = new TokenBucket(capacity, interval);
        let now = T0;
        let taken = 0;
        for (const gap of gaps) {
          now += gap;
          if (b.take(now)) taken++;
          assert.ok(taken <= capacity + Math.floor((now - T0) / interval));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('TokenBucket.perSecond: the rate as one token per 1000/rate ms', () => {
  const b = TokenBucket.perSecond(10, 5);
  assert.equal(takeAll(b, T0, 10), 5);
  assert.equal(b.take(T0 + 99), false);
  assert.equal(b.take(T0 + 100), true);
  for (const rate of [0, -1, Infinity, NaN]) assert.throws(() => TokenBucket.perSecond(rate, 5), ArgumentError);
});

test('TokenBucket: a reserve holds tokens back for callers without one', () => {
  const b = new TokenBucket(5, 100);
  let background = 0;
  while (b.take(T0, 3)) background++;
  assert.equal(background, 2);
  assert.equal(takeAll(b, T0, 10), 3);
});
