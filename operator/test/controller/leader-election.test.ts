import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { LeaderElector, type LeaderElectorOptions } from '../../src/controller/leader-election.js';
import { microTime } from '../../src/controller/lease-lock.js';
import { FakeClock, settle } from './fake-clock.js';
import { MemoryLease, MemoryLeaseLock } from './memory-lease-lock.js';

interface Candidate {
  readonly elector: LeaderElector;
  readonly lock: MemoryLeaseLock;
  readonly started: number[];
  readonly stopped: number[];
}

/** Client-go default timings (15 s / 10 s / 2 s) on a fake clock, no jitter. */
function candidate(
  identity: string,
  lease: MemoryLease,
  clock: FakeClock,
  extra: Partial<LeaderElectorOptions> = {},
): Candidate {
  const lock = new MemoryLeaseLock(lease);
  const started: number[] = [];
  const stopped: number[] = [];
  const elector = new LeaderElector({
    lock,
    identity,
    clock,
    random: () => 0,
    onStartedLeading: () => {
      started.push(clock.now());
    },
    onStoppedLeading: () => {
      stopped.push(clock.now());
    },
    ...extra,
  });
  return { elector, lock, started, stopped };
}

async function runFor(clock: FakeClock, ms: number, each: () => void, stepMs = 100): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await clock.advance(stepMs);
    each();
  }
}

describe('LeaderElector', () => {
  it('of two candidates exactly one leads, and keeps leading while it renews', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const seen: string[] = [];
    const a = candidate('a', lease, clock, { onNewLeader: (id) => seen.push(`a sees ${id}`) });
    const b = candidate('b', lease, clock, { onNewLeader: (id) => seen.push(`b sees ${id}`) });
    a.elector.start();
    b.elector.start();
    await runFor(clock, 60_000, () => {
      assert.equal(Number(a.elector.isLeader) + Number(b.elector.isLeader), 1, 'exactly one leader at every step');
    });
    assert.equal(a.elector.isLeader, true, 'the first to create the lease keeps it');
    assert.equal(lease.record?.holderIdentity, 'a');
    assert.ok(lease.conflicts >= 1, 'the losing create got a 409 and was retried as a read');
    assert.ok(lease.resourceVersion >= 29, 'renewed every 2 s');
    assert.deepEqual(seen, ['a sees a', 'b sees a']);
    await b.elector.stop();
    await a.elector.stop();
  });

  it('releases the lease on stop, so the other candidate takes over at its next retry, not after 15 s', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock);
    a.elector.start();
    await clock.advance(10);
    const b = candidate('b', lease, clock);
    b.elector.start();
    await clock.advance(5_000);
    assert.equal(a.elector.isLeader, true);
    const stoppedAt = clock.now();
    await a.elector.stop();
    assert.deepEqual(a.stopped, [stoppedAt]);
    assert.equal(lease.record?.holderIdentity, '', 'released');
    await runFor(clock, 3_000, () => undefined);
    assert.equal(b.elector.isLeader, true);
    const takeover = (b.started[0] ?? Infinity) - stoppedAt;
    assert.ok(takeover <= 2_000 * 2.2, `took over ${String(takeover)} ms after the release`);
    assert.equal(lease.record.leaseTransitions, 1, 'one change of holder');
    await b.elector.stop();
  });

  it('a leader cut off from the API steps down at the renew deadline, before the other can take over', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock);
    a.elector.start();
    await clock.advance(10);
    const b = candidate('b', lease, clock);
    b.elector.start();
    await clock.advance(6_000);
    const cutAt = clock.now();
    a.lock.partitioned = true;
    await runFor(clock, 25_000, () => {
      assert.ok(!(a.elector.isLeader && b.elector.isLeader), 'never two leaders');
    });
    const aStopped = a.stopped[0];
    const bStarted = b.started[0];
    assert.ok(aStopped !== undefined && bStarted !== undefined);
    assert.ok(aStopped - cutAt <= 10_000, `a stepped down ${String(aStopped - cutAt)} ms after the cut`);
    assert.ok(bStarted > aStopped, 'b starts only after a stopped');
    assert.ok(bStarted - cutAt <= 15_000 + 2_000, `b took over ${String(bStarted - cutAt)} ms after the cut`);
    a.lock.partitioned = false;
    await runFor(clock, 10_000, () => {
      assert.equal(a.elector.isLeader, false, 'back online, a sees b’s valid lease and stays a candidate');
    });
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('on stop keeps renewing while the guarded work drains, and releases only after it', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    let workDoneAt = 0;
    const a = candidate('a', lease, clock, {
      onStartedLeading: (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            clock.setTimer(() => {
              workDoneAt = clock.now();
              resolve();
            }, 30_000);
          });
        }),
    });
    a.elector.start();
    await clock.advance(10);
    const b = candidate('b', lease, clock);
    b.elector.start();
    await clock.advance(3_000);
    const stopping = a.elector.stop();
    await runFor(clock, 29_000, () => {
      assert.equal(b.elector.isLeader, false, 'the lease stays renewed while a drains');
    });
    assert.equal(lease.record?.holderIdentity, 'a');
    await runFor(clock, 4_000, () => undefined);
    await stopping;
    assert.ok(workDoneAt > 0);
    assert.equal(b.elector.isLeader, true);
    assert.ok((b.started[0] ?? 0) >= workDoneAt);
    await b.elector.stop();
  });

  it('retries a renewal that hits a 409 at once from a fresh read, staying leader', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock);
    const t0 = clock.now();
    a.elector.start();
    await clock.advance(1_000);
    lease.injectConflicts = 2;
    await clock.advance(2_000);
    assert.equal(lease.conflicts, 2);
    assert.equal(lease.injectConflicts, 0);
    assert.equal(a.elector.isLeader, true);
    assert.deepEqual(a.stopped, []);
    assert.equal(lease.record?.renewTime, microTime(t0 + 2_000), 'the renewal due at 2 s went through');
    await a.elector.stop();
  });

  it('steps down at the next renewal when someone else took the lease', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const a = candidate('a', lease, clock);
    a.elector.start();
    await clock.advance(3_000);
    const record = lease.record;
    assert.ok(record !== undefined);
    const takenAt = clock.now();
    lease.overwrite({ ...record, holderIdentity: 'intruder' });
    await clock.advance(2_500);
    assert.equal(a.elector.isLeader, false);
    assert.ok((a.stopped[0] ?? Infinity) - takenAt <= 2_000);
    assert.equal(a.elector.observedLeader, 'intruder');
    await a.elector.stop();
    assert.equal(lease.record?.holderIdentity, 'intruder', 'stop does not touch a lease it does not hold');
    await settle();
  });

  it('a leader whose guarded work fails releases the lease instead of sitting on it', async () => {
    const clock = new FakeClock();
    const lease = new MemoryLease();
    const errors: string[] = [];
    const a = candidate('a', lease, clock, {
      onStartedLeading: () => {
        throw new Error('controllers failed to start');
      },
      onError: (err) => errors.push(err instanceof Error ? err.message : String(err)),
    });
    a.elector.start();
    await clock.advance(10);
    const b = candidate('b', lease, clock);
    b.elector.start();
    await runFor(clock, 20_000, () => {
      assert.ok(!(a.elector.isLeader && b.elector.isLeader), 'never two leaders');
    });
    assert.equal(b.elector.isLeader, true);
    assert.ok(a.stopped.length >= 1);
    assert.ok(errors.includes('controllers failed to start'));
    await Promise.all([a.elector.stop(), b.elector.stop()]);
  });

  it('refuses timings that cannot work', () => {
    const lock = new MemoryLeaseLock(new MemoryLease());
    const base: LeaderElectorOptions = {
      lock,
      identity: 'x',
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    };
    assert.throws(() => new LeaderElector({ ...base, identity: '' }), ArgumentError);
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 1500 }), ArgumentError);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 15_000 }), ArgumentError);
    assert.throws(() => new LeaderElector({ ...base, retryPeriodMs: 9_000 }), ArgumentError);
    const ok = new LeaderElector(base);
    assert.deepEqual([ok.leaseDurationMs, ok.renewDeadlineMs, ok.retryPeriodMs], [15_000, 10_000, 2_000]);
  });
});
