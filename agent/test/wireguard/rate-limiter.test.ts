import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ArgumentError, TokenBucket } from '@meshguard/core';
import {
  DEFAULT_GLOBAL_BURST,
  DEFAULT_GLOBAL_REFILL_MS,
  DEFAULT_MAX_SOURCES,
  DEFAULT_PER_SOURCE_BURST,
  DEFAULT_PER_SOURCE_REFILL_MS,
  SourceRateLimiter,
} from '../../src/wireguard/rate-limiter.js';

const T0 = 1_000_000; // an arbitrary monotonic-clock reading

function allowCount(limiter: SourceRateLimiter, source: string, nowMs: number, attempts: number): number {
  let allowed = 0;
  for (let i = 0; i < attempts; i++) if (limiter.allow(source, nowMs)) allowed++;
  return allowed;
}

test('spec §11.2 defaults', () => {
  assert.equal(DEFAULT_PER_SOURCE_BURST, 8);
  assert.equal(DEFAULT_PER_SOURCE_REFILL_MS, 250);
  assert.equal(DEFAULT_GLOBAL_BURST, 256);
  assert.equal(DEFAULT_GLOBAL_REFILL_MS, 10);
});

test('SourceRateLimiter: per-source burst of 8, then +1 per 250 ms', () => {
  const rl = new SourceRateLimiter();
  assert.equal(allowCount(rl, '192.0.2.1', T0, 20), 8);
  assert.equal(rl.allow('192.0.2.1', T0 + 249), false);
  assert.equal(rl.allow('192.0.2.1', T0 + 250), true);
  assert.equal(rl.allow('192.0.2.1', T0 + 250), false);
  assert.equal(allowCount(rl, '192.0.2.1', T0 + 10_000, 20), 8);
  // Another source is unaffected.
  assert.equal(allowCount(rl, '192.0.2.2', T0 + 250, 20), 8);
});

test('SourceRateLimiter: the global bucket caps the total across sources at 256, +1 per 10 ms', () => {
  const rl = new SourceRateLimiter();
  let allowed = 0;
  for (let i = 0; i < 1000; i++) if (rl.allow(`src-${i}`, T0)) allowed++;
  assert.equal(allowed, 256);
  assert.equal(rl.allow('fresh', T0 + 9), false);
  assert.equal(rl.allow('fresh', T0 + 10), true);
  assert.equal(rl.allow('another', T0 + 10), false);
});

test('SourceRateLimiter: a source refused by its own bucket does not drain the global one', () => {
  const rl = new SourceRateLimiter({ globalBurst: 20 });
  assert.equal(allowCount(rl, 'noisy', T0, 10_000), 8);
  let others = 0;
  for (let i = 0; i < 100; i++) if (rl.allow(`other-${i}`, T0)) others++;
  assert.equal(others, 12);
});

test('SourceRateLimiter: a global refusal does not cost the source its own token', () => {
  const rl = new SourceRateLimiter({ globalBurst: 4, globalRefillMs: 10 });
  for (let i = 0; i < 4; i++) assert.equal(rl.allow(`drain-${i}`, T0), true);
  assert.equal(allowCount(rl, 'victim', T0, 50), 0);
  // The global bucket refills long before the victim's own (250 ms) could, so whatever the
  // victim is allowed now comes from tokens the refusals above did not consume.
  assert.equal(allowCount(rl, 'victim', T0 + 80, 50), 4);
  assert.equal(allowCount(rl, 'victim', T0 + 160, 50), 4);
  assert.equal(allowCount(rl, 'victim', T0 + 240, 50), 0, 'its burst of 8 is now spent');
});

test('SourceRateLimiter: memory stays bounded under 100k distinct sources', () => {
  const maxSources = 1024;
  const rl = new SourceRateLimiter({ maxSources, globalBurst: 1_000_000, globalRefillMs: 1 });
  for (let i = 0; i < 100_000; i++) {
    // All within one idle period, so only LRU eviction can bound the table.
    assert.equal(rl.allow(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, T0 + i / 1000), true);
    assert.ok(rl.size <= maxSources);
  }
  assert.equal(rl.size, maxSources);
});

test('SourceRateLimiter: the default bound holds too', () => {
  const rl = new SourceRateLimiter();
  for (let i = 0; i < 100_000; i++) rl.allow(`s${i}`, T0);
  assert.equal(rl.size, DEFAULT_MAX_SOURCES);
});

test('SourceRateLimiter: eviction takes the least recently seen source', () => {
  const rl = new SourceRateLimiter({ maxSources: 2 });
  assert.equal(allowCount(rl, 'a', T0, 8), 8);
  assert.equal(allowCount(rl, 'b', T0, 8), 8);
  assert.equal(rl.allow('a', T0 + 1), false); // touches a: b is now the oldest
  assert.equal(rl.allow('c', T0 + 2), true); // evicts b
  assert.equal(rl.size, 2);
  assert.equal(rl.allow('a', T0 + 3), false, 'a kept its exhausted bucket');
  assert.equal(rl.allow('b', T0 + 4), true, 'b was forgotten and starts afresh');
});

test('SourceRateLimiter: idle sources are forgotten once their bucket would be full again', () => {
  const rl = new SourceRateLimiter();
  for (let i = 0; i < 100; i++) rl.allow(`s${i}`, T0);
  assert.equal(rl.size, 100);
  rl.allow('late', T0 + 8 * 250 - 1);
  assert.equal(rl.size, 101);
  rl.allow('later', T0 + 8 * 250);
  assert.equal(rl.size, 2);
  // A forgotten source behaves exactly as if it had been remembered: full burst.
  assert.equal(allowCount(rl, 's0', T0 + 8 * 250, 20), 8);
});

test('SourceRateLimiter: bad options are ArgumentErrors', () => {
  assert.throws(() => new SourceRateLimiter({ maxSources: 0 }), ArgumentError);
  assert.throws(() => new SourceRateLimiter({ maxSources: 1.5 }), ArgumentError);
  assert.throws(() => new SourceRateLimiter({ perSourceBurst: 0 }), ArgumentError);
  assert.throws(() => new SourceRateLimiter({ perSourceRefillMs: -1 }), ArgumentError);
  assert.throws(() => new SourceRateLimiter({ globalBurst: 0 }), ArgumentError);
  assert.throws(() => new SourceRateLimiter({ globalRefillMs: 0 }), ArgumentError);
});

test('property: with room for every source, each gets exactly what its own TokenBucket would allow', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: fc.nat({ max: 6 }), gap: fc.nat({ max: 400 }) }), { maxLength: 300 }),
      fc.integer({ min: 1, max: 8 }),
      (events, maxSources) => {
        // A generous global bucket isolates the per-source behaviour; eviction may only ever
        // make the limiter more permissive than the unbounded model, never stricter.
        const rl = new SourceRateLimiter({ maxSources, globalBurst: 1_000_000 });
        const models = new Map<number, TokenBucket>();
        let now = T0;
        for (const { source, gap } of events) {
          now += gap;
          let model = models.get(source);
          if (model === undefined) models.set(source, (model = new TokenBucket(8, 250)));
          const expected = model.take(now);
          const actual = rl.allow(`s${source}`, now);
          if (maxSources >= 7) assert.equal(actual, expected);
          else if (expected) assert.equal(actual, true);
          assert.ok(rl.size <= maxSources);
        }
      },
    ),
    { numRuns: 300 },
  );
});
