import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BucketRateLimiter,
  ExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
} from '../../src/controller/rate-limiter.js';
import { WorkQueue, type WorkQueueMetrics } from '../../src/controller/work-queue.js';
import { ArgumentError } from '@meshguard/core';
import { FakeClock, settle } from './fake-clock.js';

describe('WorkQueue', () => {
  it('de-duplicates: a pending key is queued once however often it is added, in FIFO order', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('c');
    q.add('b');
    assert.equal(q.depth, 3);
    assert.deepEqual([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c']);
    assert.equal(q.depth, 0);
    assert.equal(q.processing, 3);
  });

  it('parks a key added while it is processed and hands it out again only after done()', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.depth, 0, 'not queued while a worker has it');
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await settle();
    assert.equal(second, undefined, 'not handed to a second worker while the first has it');
    q.done('a');
    await waiting;
    assert.equal(second, 'a', 'processed again after done: the adds made meanwhile are not lost');
    q.done('a');
    assert.equal(q.processing, 0);
    assert.equal(q.depth, 0, 'two adds while processing made one more round, not two');
  });

  it('wakes waiting workers in order as keys arrive', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    const first = q.get();
    const second = q.get();
    q.add('x');
    q.add('y');
    assert.deepEqual(await Promise.all([first, second]), ['x', 'y']);
  });

  it('ignores done() for a key that is not being processed', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    q.done('a');
    assert.equal(q.depth, 1, 'still queued once');
    assert.equal(await q.get(), 'a');
    q.done('a');
    q.done('a');
    assert.equal(q.depth, 0);
  });

  it('retries with per-key exponential backoff 5 ms, 10 ms, 20 ms … capped at 1000 s', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const delays: number[] = [];
    for (let i = 0; i < 22; i++) {
      const before = clock.now();
      q.addRateLimited('k');
      assert.equal(q.depth, 0, 'not before its delay');
      const at = clock.nextAt();
      assert.ok(at !== undefined);
      delays.push(at - before);
      await clock.advance(at - before - 1);
      assert.equal(q.depth, 0, `retry ${String(i)} early`);
      await clock.advance(1);
      assert.equal(q.depth, 1, `retry ${String(i)} on time`);
      assert.equal(await q.get(), 'k');
      q.done('k');
    }
    assert.deepEqual(delays.slice(0, 8), [5, 10, 20, 40, 80, 160, 320, 640]);
    assert.equal(delays[17], 655_360);
    assert.equal(delays[18], 1_000_000, 'capped at 1000 s');
    assert.equal(delays[21], 1_000_000);
    assert.equal(q.numRequeues('k'), 22);
  });

  it('forget() restarts the backoff from the base delay', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    for (let i = 0; i < 4; i++) q.addRateLimited('k');
    assert.equal(q.numRequeues('k'), 4);
    q.forget('k');
    assert.equal(q.numRequeues('k'), 0);
    await clock.advance(1_000_000); // clear what was waiting
    assert.equal(await q.get(), 'k');
    q.done('k');
    const before = clock.now();
    q.addRateLimited('k');
    assert.equal(clock.nextAt(), before + 5);
  });

  it('limits retries over all keys to 10 per second after a burst of 100', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    for (let i = 0; i < 130; i++) q.addRateLimited(`k${String(i)}`);
    // The first 100 come back after the 5 ms item delay; then one per 100 ms.
    await clock.advance(5);
    assert.equal(q.depth, 100);
    await clock.advance(94);
    assert.equal(q.depth, 100);
    await clock.advance(1);
    assert.equal(q.depth, 101);
    await clock.advance(1000);
    assert.equal(q.depth, 111);
    await clock.advance(2000);
    assert.equal(q.depth, 130);
    assert.equal(clock.pending, 0);
  });

  it('addAfter keeps the earlier of two ready times for the same key', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    q.addAfter('k', 100);
    q.addAfter('k', 300);
    assert.equal(q.waiting, 1);
    await clock.advance(100);
    assert.equal(q.depth, 1);
    await clock.advance(1000);
    assert.equal(q.depth, 1, 'the later add was dropped, not fired on top');
    q.addAfter('j', 300);
    q.addAfter('j', 50);
    await clock.advance(50);
    assert.equal(q.depth, 2);
    assert.equal(clock.pending, 0);
    q.addAfter('now', 0);
    assert.equal(q.depth, 3, 'no delay: added at once');
  });

  it('shutDown wakes waiting workers with undefined, drops pending and delayed keys, refuses adds', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue({ clock });
    const waiting = q.get();
    q.add('a'); // taken by the waiting worker
    assert.equal(await waiting, 'a');
    const blocked = q.get();
    q.addAfter('later', 1000);
    q.shutDown();
    assert.equal(await blocked, undefined);
    assert.equal(clock.pending, 0, 'delayed add cancelled');
    q.add('b');
    q.addRateLimited('c');
    assert.equal(q.depth, 0);
    assert.equal(await q.get(), undefined);
    assert.equal(q.shuttingDown, true);
  });

  it('shutDownWithDrain resolves only after every key in flight is done', async () => {
    const q = new WorkQueue({ clock: new FakeClock() });
    q.add('a');
    q.add('b');
    q.add('c');
    const a = await q.get();
    const b = await q.get();
    assert.ok(a !== undefined && b !== undefined);
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => (drained = true));
    q.add(a); // re-added in flight: must not come back after shutdown
    await settle();
    assert.equal(drained, false);
    q.done(a);
    await settle();
    assert.equal(drained, false);
    assert.equal(q.depth, 0, 'the re-added key was not queued again');
    q.done(b);
    await drain;
    assert.equal(drained, true);
    assert.equal(await q.get(), undefined, 'the pending key c is not handed out after shutdown');
    await new WorkQueue({ clock: new FakeClock() }).shutDownWithDrain(); // nothing in flight: at once
  });

  it('reports adds, depth, retries, queue and work durations to its metrics hooks', async () => {
    const clock = new FakeClock();
    const seen = { adds: 0, retries: 0, depth: [] as number[], queue: [] as number[], work: [] as number[] };
    const metrics: WorkQueueMetrics = {
      add: () => seen.adds++,
      retry: () => seen.retries++,
      depth: (d) => seen.depth.push(d),
      queueDuration: (s) => seen.queue.push(s),
      workDuration: (s) => seen.work.push(s),
    };
    const q = new WorkQueue({ clock, metrics });
    q.add('a');
    q.add('a'); // duplicate: not an add
    q.add('b');
    await clock.advance(250);
    const a = await q.get();
    assert.equal(a, 'a');
    await clock.advance(1500);
    assert.equal(q.unfinishedWorkSeconds(), 1.5);
    assert.equal(q.longestRunningProcessorSeconds(), 1.5);
    q.done('a');
    q.addRateLimited('a');
    await clock.advance(5);
    assert.equal(seen.adds, 3);
    assert.equal(seen.retries, 1);
    assert.deepEqual(seen.queue, [0.25]);
    assert.deepEqual(seen.work, [1.5]);
    assert.deepEqual(seen.depth, [1, 2, 1, 2]);
    assert.equal(q.unfinishedWorkSeconds(), 0);
  });
});

describe('rate limiters', () => {
  it('exponential: doubles per failure from the base, per key, and survives huge failure counts', () => {
    const r = new ExponentialFailureRateLimiter<string>(5, 1_000_000);
    assert.deepEqual([r.when('a'), r.when('a'), r.when('a'), r.when('b'), r.when('a')], [5, 10, 20, 5, 40]);
    for (let i = 0; i < 5000; i++) r.when('a');
    assert.equal(r.when('a'), 1_000_000);
    assert.equal(r.numRequeues('b'), 1);
    r.forget('a');
    assert.equal(r.when('a'), 5);
  });

  it('bucket: reserves future slots beyond the burst instead of refusing', () => {
    const r = new BucketRateLimiter<string>(10, 3);
    const t = 1000;
    assert.deepEqual(
      [r.when('x', t), r.when('x', t), r.when('x', t), r.when('x', t), r.when('x', t)],
      [0, 0, 0, 100, 200],
    );
    // 250 ms later 2.5 tokens came back, all owed to the reservations already made.
    assert.equal(r.when('x', t + 250), 50);
    // A clock stepping back grants nothing.
    assert.equal(r.when('x', t), 150);
  });

  it('max-of: the longest delay of its limiters, and the default is client-go’s', () => {
    const r = new MaxOfRateLimiter<string>(new ExponentialFailureRateLimiter(5, 1000), new BucketRateLimiter(1, 1));
    assert.equal(r.when('a', 0), 5);
    assert.equal(r.when('a', 0), 1000);
    assert.equal(r.numRequeues('a'), 2);
    const d = defaultControllerRateLimiter<string>();
    assert.equal(d.when('k', 0), 5);
    assert.equal(d.when('k', 0), 10);
  });

  it('rejects parameters no limiter could have', () => {
    assert.throws(() => new ExponentialFailureRateLimiter(0, 10), ArgumentError);
    assert.throws(() => new ExponentialFailureRateLimiter(10, 5), ArgumentError);
    assert.throws(() => new BucketRateLimiter(0, 1), ArgumentError);
    assert.throws(() => new BucketRateLimiter(1, 0.5), ArgumentError);
    assert.throws(() => new MaxOfRateLimiter(), ArgumentError);
  });
});
