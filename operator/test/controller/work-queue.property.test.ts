import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WorkQueue } from '../../src/controller/work-queue.js';
import { FakeClock, settle } from './fake-clock.js';

type Command =
  | { readonly op: 'add'; readonly key: string }
  | { readonly op: 'addAfter'; readonly key: string; readonly delayMs: number }
  | { readonly op: 'addRateLimited'; readonly key: string }
  | { readonly op: 'take'; readonly worker: number }
  | { readonly op: 'finish'; readonly worker: number; readonly forget: boolean }
  | { readonly op: 'tick'; readonly ms: number };

const WORKERS = 3;
const key = fc.constantFrom('a', 'b', 'c', 'd');
const worker = fc.integer({ min: 0, max: WORKERS - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), key }),
  fc.record({ op: fc.constant('addAfter' as const), key, delayMs: fc.integer({ min: 0, max: 50 }) }),
  fc.record({ op: fc.constant('addRateLimited' as const), key }),
  fc.record({ op: fc.constant('take' as const), worker }),
  fc.record({ op: fc.constant('take' as const), worker }),
  fc.record({ op: fc.constant('finish' as const), worker, forget: fc.boolean() }),
  fc.record({ op: fc.constant('finish' as const), worker, forget: fc.boolean() }),
  fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }),
);

/** Every add is logged, including the delayed ones the queue makes itself when their timer fires. */
class ProbedQueue extends WorkQueue {
  readonly lastAdd = new Map<string, number>();
  seq = 0;

  override add(k: string): void {
    this.lastAdd.set(k, ++this.seq);
    super.add(k);
  }
}

type Worker = { state: 'idle' } | { state: 'waiting' } | { state: 'holding'; key: string };

test('WorkQueue property: every key is processed after its last add, never by two workers at once', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command, { maxLength: 80 }), async (commands) => {
      const clock = new FakeClock();
      const q = new ProbedQueue({ clock });
      const lastTake = new Map<string, number>();
      const violations: string[] = [];
      const workers: Worker[] = Array.from({ length: WORKERS }, () => ({ state: 'idle' }));

      const take = (i: number): void => {
        workers[i] = { state: 'waiting' };
        void q.get().then((k) => {
          if (k === undefined) {
            workers[i] = { state: 'idle' };
            return;
          }
          if (workers.some((w) => w.state === 'holding' && w.key === k)) violations.push(`${k} held twice`);
          workers[i] = { state: 'holding', key: k };
          lastTake.set(k, ++q.seq);
        });
      };
      const finish = (i: number, forget: boolean): void => {
        const w = workers[i];
        if (w?.state !== 'holding') return;
        if (forget) q.forget(w.key);
        workers[i] = { state: 'idle' };
        q.done(w.key);
      };

      for (const c of commands) {
        switch (c.op) {
          case 'add':
            q.add(c.key);
            break;
          case 'addAfter':
            q.addAfter(c.key, c.delayMs);
            break;
          case 'addRateLimited':
            q.addRateLimited(c.key);
            break;
          case 'take':
            if (workers[c.worker]?.state === 'idle') take(c.worker);
            break;
          case 'finish':
            finish(c.worker, c.forget);
            break;
          case 'tick':
            await clock.advance(c.ms);
            break;
        }
        await settle(1);
        const held = workers.flatMap((w) => (w.state === 'holding' ? [w.key] : []));
        if (new Set(held).size !== held.length) violations.push(`duplicate holders: ${held.join(',')}`);
        if (q.depth > 4) violations.push(`depth ${String(q.depth)} exceeds the number of distinct keys`);
      }

      // Drain: workers finish what they hold and take more until nothing is pending or delayed.
      for (let round = 0; round < 50; round++) {
        for (let i = 0; i < WORKERS; i++) finish(i, false);
        for (let i = 0; i < WORKERS; i++) if (workers[i]?.state === 'idle') take(i);
        await settle();
        if (q.depth === 0 && q.waiting === 0 && workers.every((w) => w.state === 'waiting')) break;
        // Beyond any backoff (1000 s) and any burst of the overall bucket.
        await clock.advance(2_000_000);
      }
      q.shutDown();
      await settle();

      assert.deepEqual(violations, []);
      for (const [k, addedAt] of q.lastAdd) {
        const takenAt = lastTake.get(k) ?? -1;
        assert.ok(takenAt > addedAt, `${k} last added at #${String(addedAt)}, last taken at #${String(takenAt)}`);
      }
    }),
    { numRuns: 200 },
  );
});
