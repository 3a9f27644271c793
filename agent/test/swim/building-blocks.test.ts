import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TokenBucket } from '@meshguard/core';
import { Awareness } from '../../src/swim/awareness.js';
import { BroadcastQueue, retransmitLimit } from '../../src/swim/broadcast-queue.js';
import type { GossipEntry } from '../../src/swim/gossip-entry-codec.js';
import { decodeGossipEntry } from '../../src/swim/gossip-entry-codec.js';
import { MinHeap } from '../../src/swim/min-heap.js';
import { ProbeOrder } from '../../src/swim/probe-order.js';
import { Quarantine } from '../../src/swim/quarantine.js';
import { randomBelow, sampleDistinct, SeededRandom } from '../../src/swim/random-source.js';
import { RecentSet } from '../../src/swim/recent-set.js';
import { Suspicion, suspicionConfirmationsWanted, suspicionMinMs, suspicionTimeout } from '../../src/swim/suspicion.js';
import { TimerQueue } from '../../src/swim/timer-queue.js';

function entry(subject: number, lamport = 1n): GossipEntry {
  const key = new Uint8Array(32);
  key[0] = subject & 0xff;
  key[1] = subject >> 8;
  return {
    subjectPublicKey: key,
    event: 'alive',
    lamport,
    endpoint: null,
    wgPublicKey: null,
    publicEndpoint: null,
    natType: 'unknown',
  };
}

describe('BroadcastQueue', () => {
  it('sends least-sent rumours first and each at most maxTransmits times', () => {
    const q = new BroadcastQueue(100);
    for (let i = 0; i < 5; i++) q.enqueue(`k${i}`, entry(i));
    const seen = new Map<number, number>();
    for (let round = 0; round < 20; round++) {
      for (const bytes of q.take(2, 3)) {
        const subject = decodeGossipEntry(bytes).subjectPublicKey[0]!;
        seen.set(subject, (seen.get(subject) ?? 0) + 1);
      }
    }
    assert.deepEqual([...seen.values()], [3, 3, 3, 3, 3]);
    assert.equal(q.size, 0);
  });

  it('a newer rumour about the same subject replaces the old one and starts over', () => {
    const q = new BroadcastQueue(10);
    q.enqueue('a', entry(1, 1n));
    q.take(8, 4);
    q.enqueue('a', entry(1, 2n));
    assert.equal(q.size, 1);
    assert.equal(q.peek('a')?.lamport, 2n);
    const [bytes] = q.take(8, 4);
    assert.equal(decodeGossipEntry(bytes!).lamport, 2n);
  });

  it('when full, drops the rumour that was sent most', () => {
    const q = new BroadcastQueue(2);
    q.enqueue('old', entry(1));
    q.take(1, 10);
    q.enqueue('new', entry(2));
    q.enqueue('newer', entry(3));
    assert.equal(q.size, 2);
    assert.equal(q.has('old'), false);
  });

  it('hearing the same rumour again shortens it, once its first quarter is sent', () => {
    const q = new BroadcastQueue(10);
    const handle = q.enqueue('a', entry(1, 5n));
    q.heardAgain(handle, 8, 'alive', 5n);
    q.take(1, 8);
    q.heardAgain(handle, 8, 'alive', 5n);
    assert.equal(handle.queued, true, 'the first quarter is always sent');
    q.take(1, 8); // two of eight sent
    q.heardAgain(handle, 8, 'alive', 6n); // different news: no effect
    for (let i = 0; i < 5; i++) q.heardAgain(handle, 8, 'alive', 5n);
    assert.equal(handle.queued, true);
    q.heardAgain(handle, 8, 'alive', 5n);
    assert.equal(handle.queued, false);
  });

  it('property: bounded, at most `limit` per take, nothing sent more than the budget', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('add' as const), k: fc.integer({ min: 0, max: 20 }) }),
            fc.record({ op: fc.constant('take' as const), n: fc.integer({ min: 0, max: 8 }) }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const q = new BroadcastQueue(8);
          const sends = new Map<string, number>();
          for (const o of ops) {
            if (o.op === 'add') {
              q.enqueue(`k${o.k}`, entry(o.k));
              sends.set(`k${o.k}`, 0);
            } else {
              const out = q.take(o.n, 5);
              if (out.length > o.n) return false;
              for (const b of out) {
                const k = `k${decodeGossipEntry(b).subjectPublicKey[0]!}`;
                sends.set(k, (sends.get(k) ?? 0) + 1);
                if (sends.get(k)! > 5) return false;
              }
            }
            if (q.size > 8) return false;
          }
          return true;
        },
      ),
    );
  });

  it('uses memberlist’s retransmit limit λ·⌈log10(n+1)⌉', () => {
    assert.equal(retransmitLimit(4, 1), 4);
    assert.equal(retransmitLimit(4, 9), 4);
    assert.equal(retransmitLimit(4, 10), 8);
    assert.equal(retransmitLimit(4, 1000), 16);
  });
});

describe('Suspicion (Lifeguard)', () => {
  it('starts at max, shrinks on a log curve with confirmations and stops at min after k', () => {
    assert.equal(suspicionTimeout(0, 3, 1000, 6000), 6000);
    assert.equal(suspicionTimeout(1, 3, 1000, 6000), Math.floor(6000 - 5000 * (Math.log(2) / Math.log(4))));
    assert.equal(suspicionTimeout(3, 3, 1000, 6000), 1000);
    assert.equal(suspicionTimeout(9, 3, 1000, 6000), 1000);
    assert.equal(suspicionTimeout(0, 0, 1000, 6000), 1000, 'k = 0: straight to the minimum');
  });

  it('counts each confirmer once and stops counting at k', () => {
    const s = new Suspicion(5n, 100, 2, 1000, 6000);
    assert.equal(s.deadline, 6100);
    assert.equal(s.confirm('a'), true);
    assert.equal(s.confirm('a'), false);
    assert.equal(s.confirm('b'), true);
    assert.equal(s.confirm('c'), false);
    assert.equal(s.deadline, 1100);
  });

  it('property: the timeout never rises with more confirmations and stays within [min, max]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 10 }),
        (k, min, mult) => {
          const max = min * mult;
          let last = Infinity;
          for (let n = 0; n <= k + 2; n++) {
            const t = suspicionTimeout(n, k, min, max);
            if (t > last || t < min || t > max) return false;
            last = t;
          }
          return true;
        },
      ),
    );
  });

  it('scales the minimum with log10 of the mesh size and wants mult − 2 confirmations', () => {
    assert.equal(suspicionMinMs(4, 5, 1000), 4000);
    assert.equal(suspicionMinMs(4, 1000, 1000), 12000);
    assert.equal(suspicionConfirmationsWanted(4, 3), 0);
    assert.equal(suspicionConfirmationsWanted(4, 100), 2);
  });
});

describe('Awareness', () => {
  it('stays within [0, max] and scales timeouts by score + 1', () => {
    const a = new Awareness(8);
    a.applyDelta(-3);
    assert.equal(a.score, 0);
    a.applyDelta(20);
    assert.equal(a.score, 8);
    assert.equal(a.scale(500), 4500);
  });
});

describe('ProbeOrder', () => {
  it('property: every item exactly once per round, also across additions and removals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer(), (n, seed) => {
        const order = new ProbeOrder<{ id: number; probeSlot: number }>(new SeededRandom(seed));
        const items = Array.from({ length: n }, (_, id) => ({ id, probeSlot: -1 }));
        items.forEach((i) => order.add(i));
        // Finish any partial first round, then check whole rounds.
        for (let round = 0; round < 3; round++) {
          const seen = new Set<number>();
          for (let i = 0; i < n; i++) seen.add(order.next(() => true)!.id);
          if (round > 0 && seen.size !== n) return false;
        }
        order.remove(items[0]!);
        for (let i = 0; i < 3 * n; i++) if (order.next(() => true) === items[0]) return false;
        return order.size === n - 1;
      }),
    );
  });

  it('skips ineligible items and returns null when none qualifies', () => {
    const order = new ProbeOrder<{ probeSlot: number; ok: boolean }>(new SeededRandom(1));
    order.add({ probeSlot: -1, ok: false });
    assert.equal(
      order.next((i) => i.ok),
      null,
    );
  });
});

describe('Quarantine (spec §7.9)', () => {
  const limits = { capacity: 2, ttlMs: 30_000, maxProbes: 3, probeGapMs: 1000 };
  const endpoint = { address: '198.51.100.1', port: 1 };

  it('replaces the oldest when full, spaces probes and stops after the budget or the TTL', () => {
    const q = new Quarantine(limits);
    q.offer('a', new Uint8Array(32), endpoint, 0, null);
    q.offer('b', new Uint8Array(32), endpoint, 0, null);
    q.offer('c', new Uint8Array(32), endpoint, 0, null);
    assert.equal(q.size, 2);
    assert.equal(q.has('a'), false);
    let probes = 0;
    for (let t = 0; t < 40_000; t += 100) {
      for (let c = q.due(t); c !== null; c = q.due(t)) {
        c.probes++;
        c.lastProbeAt = t;
        probes++;
      }
    }
    assert.equal(probes, 6, 'three probes each');
    assert.equal(q.size, 0, 'dropped when exhausted');
  });
});

describe('small utilities', () => {
  it('TokenBucket: burst, then the rate; a reserve holds tokens back', () => {
    const b = TokenBucket.perSecond(10, 5);
    let taken = 0;
    while (b.take(0)) taken++;
    assert.equal(taken, 5);
    assert.equal(b.take(50), false);
    assert.equal(b.take(100), true);
    const r = TokenBucket.perSecond(10, 5);
    let background = 0;
    while (r.take(0, 3)) background++;
    assert.equal(background, 2);
    assert.equal(r.take(0), true);
  });

  it('TimerQueue: fires due timers in order, skips cancelled ones, reports the next deadline', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    q.schedule(30, () => fired.push(30));
    const cancelled = q.schedule(10, () => fired.push(10));
    q.schedule(20, () => {
      fired.push(20);
      q.schedule(20, () => fired.push(21));
    });
    cancelled.cancelled = true;
    assert.equal(q.nextAt(), 20);
    q.runDue(25);
    assert.deepEqual(fired, [20, 21]);
    assert.equal(q.nextAt(), 30);
  });

  it('MinHeap: property — pops in (at, insertion) order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 })), (ats) => {
        const heap = new MinHeap<{ at: number; order: number; i: number }>();
        ats.forEach((at, i) => heap.push({ at, order: 0, i }));
        const out: Array<{ at: number; i: number }> = [];
        for (let x = heap.pop(); x !== undefined; x = heap.pop()) out.push(x);
        const expected = ats.map((at, i) => ({ at, i })).sort((a, b) => a.at - b.at || a.i - b.i);
        return JSON.stringify(out.map((o) => [o.at, o.i])) === JSON.stringify(expected.map((o) => [o.at, o.i]));
      }),
    );
  });

  it('RecentSet: bounded, with a time to live', () => {
    const s = new RecentSet(2, 100);
    s.add('a', 0);
    s.add('b', 0);
    s.add('c', 0);
    assert.equal(s.size, 2);
    assert.equal(s.has('a', 0), false);
    assert.equal(s.has('b', 150), false);
  });

  it('SeededRandom: same seed, same stream; randomBelow is in range; sampleDistinct returns distinct accepted items', () => {
    const a = new SeededRandom(1);
    const b = new SeededRandom(1);
    for (let i = 0; i < 100; i++) assert.equal(a.nextUint32(), b.nextUint32());
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer(), (n, seed) => {
        const r = new SeededRandom(seed);
        const x = randomBelow(r, n);
        const items = Array.from({ length: n }, (_, i) => i);
        const picked = sampleDistinct(r, items, 5, (i) => i % 2 === 0);
        return (
          x >= 0 &&
          x < n &&
          new Set(picked).size === picked.length &&
          picked.every((i) => i % 2 === 0) &&
          picked.length === Math.min(5, Math.ceil(n / 2))
        );
      }),
    );
  });
});
