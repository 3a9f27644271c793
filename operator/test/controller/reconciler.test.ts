import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { enqueueOnChange, generationChanged } from '../../src/controller/enqueue.js';
import { Informer, type KubeObject } from '@meshguard/core/kube';
import { Controller, type ReconcileOutcome, type Reconciler, type Result } from '../../src/controller/reconciler.js';
import { FakeClock, settle } from './fake-clock.js';
import { FakeListWatcher, type TestObject } from './fake-list-watcher.js';

/** A reconciler whose answers the test scripts per key, recording every call. */
class ScriptedReconciler implements Reconciler<string> {
  readonly calls: string[] = [];
  readonly script = new Map<string, (Result | Error | undefined)[]>();
  concurrent = 0;
  maxConcurrent = 0;
  readonly inFlight = new Set<string>();
  overlap = false;
  hold: Promise<void> | undefined;

  async reconcile(key: string, signal: AbortSignal): Promise<Result | undefined> {
    this.calls.push(key);
    if (this.inFlight.has(key)) this.overlap = true;
    this.inFlight.add(key);
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    try {
      if (this.hold !== undefined) {
        await Promise.race([
          this.hold,
          new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
        ]);
        if (signal.aborted) throw new Error('aborted');
      }
      const next = this.script.get(key)?.shift();
      if (next instanceof Error) throw next;
      return next;
    } finally {
      this.concurrent--;
      this.inFlight.delete(key);
    }
  }
}

function meta(generation: number | undefined, resourceVersion: string, deletionTimestamp?: string): KubeObject {
  return {
    metadata: {
      name: 'x',
      resourceVersion,
      ...(generation !== undefined && { generation }),
      ...(deletionTimestamp !== undefined && { deletionTimestamp }),
    },
  };
}

describe('Controller', () => {
  it('reconciles keys; errors are counted and retried with backoff; success forgets the backoff', async () => {
    const clock = new FakeClock();
    const reconciler = new ScriptedReconciler();
    reconciler.script.set('a', [new Error('boom'), new Error('boom'), undefined]);
    const outcomes: ReconcileOutcome[] = [];
    const errors: string[] = [];
    const c = new Controller({
      name: 'test',
      reconciler,
      clock,
      metrics: { reconciled: (o) => outcomes.push(o) },
      onError: (key, err) => errors.push(`${key}: ${err instanceof Error ? err.message : String(err)}`),
    });
    c.start();
    c.queue.add('a');
    await settle();
    assert.deepEqual(reconciler.calls, ['a']);
    await clock.advance(4);
    assert.equal(reconciler.calls.length, 1, 'retry waits its 5 ms');
    await clock.advance(1);
    assert.equal(reconciler.calls.length, 2);
    await clock.advance(10);
    assert.equal(reconciler.calls.length, 3);
    assert.deepEqual(outcomes, ['error', 'error', 'success']);
    assert.deepEqual(errors, ['a: boom', 'a: boom']);
    assert.equal(c.queue.numRequeues('a'), 0, 'success forgot the failures');
    assert.deepEqual(c.stats, { reconciles: 3, errors: 2, requeues: 0, activeWorkers: 0 });
    await c.stop();
  });

  it('honours requeueAfterMs exactly and requeue through the rate limiter', async () => {
    const clock = new FakeClock();
    const reconciler = new ScriptedReconciler();
    reconciler.script.set('periodic', [{ requeueAfterMs: 60_000 }, undefined]);
    reconciler.script.set('again', [{ requeue: true }, { requeue: true }, {}]);
    const c = new Controller({ name: 'test', reconciler, clock });
    c.start();
    c.queue.add('periodic');
    c.queue.add('again');
    await settle();
    await clock.advance(59_999);
    assert.deepEqual(
      reconciler.calls.filter((k) => k === 'periodic'),
      ['periodic'],
    );
    assert.deepEqual(
      reconciler.calls.filter((k) => k === 'again'),
      ['again', 'again', 'again'],
      'requeued after 5 ms, then 10 ms',
    );
    await clock.advance(1);
    assert.equal(reconciler.calls.filter((k) => k === 'periodic').length, 2);
    assert.equal(c.stats.requeues, 3);
    assert.equal(c.stats.errors, 0);
    await c.stop();
  });

  it('runs N workers in parallel over distinct keys, never one key twice at once', async () => {
    const clock = new FakeClock();
    const reconciler = new ScriptedReconciler();
    let release = (): void => undefined;
    reconciler.hold = new Promise((resolve) => (release = resolve));
    const active: number[] = [];
    const c = new Controller({
      name: 'test',
      reconciler,
      clock,
      workers: 3,
      metrics: { activeWorkers: (n) => active.push(n) },
    });
    c.start();
    // a, b and c go straight to the three waiting workers; the second a and b arrive in flight.
    for (const k of ['a', 'b', 'c', 'd', 'a', 'b']) c.queue.add(k);
    await settle();
    assert.equal(reconciler.concurrent, 3);
    c.queue.add('a'); // in flight and already dirty: still one more round only
    release();
    await settle();
    await clock.advance(1);
    assert.equal(reconciler.maxConcurrent, 3);
    assert.equal(reconciler.overlap, false);
    assert.deepEqual([...reconciler.calls].sort(), ['a', 'a', 'b', 'b', 'c', 'd']);
    assert.equal(Math.max(...active), 3);
    await c.stop();
  });

  it('stop waits for reconciles in flight; past the drain timeout it aborts them', async () => {
    const clock = new FakeClock();
    const reconciler = new ScriptedReconciler();
    let release = (): void => undefined;
    reconciler.hold = new Promise((resolve) => (release = resolve));
    const c = new Controller({ name: 'test', reconciler, clock, workers: 2 });
    c.start();
    c.queue.add('a');
    c.queue.add('b');
    c.queue.add('c');
    await settle();
    let stopped = false;
    const stopping = c.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'waits for a and b');
    release();
    await stopping;
    assert.deepEqual(reconciler.calls, ['a', 'b'], 'c, still pending, was dropped: the next leader re-lists it');

    const stuck = new ScriptedReconciler();
    stuck.hold = new Promise<void>(() => undefined);
    const d = new Controller({ name: 'stuck', reconciler: stuck, clock });
    d.start();
    d.queue.add('x');
    await settle();
    const done = d.stop({ drainTimeoutMs: 5_000 });
    await clock.advance(5_000);
    await done;
    assert.equal(d.stats.errors, 1, 'the aborted reconcile failed through its signal');
  });

  it('bounds a reconcile with reconcileTimeoutMs through its signal', async () => {
    const clock = new FakeClock();
    const reconciler = new ScriptedReconciler();
    reconciler.hold = new Promise<void>(() => undefined);
    const c = new Controller({ name: 'test', reconciler, clock, reconcileTimeoutMs: 1_000 });
    c.start();
    c.queue.add('slow');
    await clock.advance(1_000);
    assert.equal(c.stats.errors, 1);
    assert.equal(c.queue.waiting, 1, 'retried with backoff');
    await c.stop({ abort: true });
  });

  it('rejects a worker count below one', () => {
    const reconciler = new ScriptedReconciler();
    assert.throws(() => new Controller({ name: 'x', reconciler, workers: 0 }), ArgumentError);
    assert.throws(() => new Controller({ name: 'x', reconciler, reconcileTimeoutMs: 0 }), ArgumentError);
  });
});

describe('event filtering', () => {
  it('generationChanged: status-only updates do not count; spec changes and deletion do', () => {
    assert.equal(generationChanged(meta(3, '10'), meta(3, '11')), false, 'status write: same generation');
    assert.equal(generationChanged(meta(3, '10'), meta(4, '11')), true);
    assert.equal(generationChanged(meta(3, '10'), meta(3, '11', '2030-01-01T00:00:00Z')), true, 'deletion started');
    assert.equal(generationChanged(meta(undefined, '10'), meta(undefined, '11')), true, 'no generation: any change');
    assert.equal(generationChanged(meta(undefined, '10'), meta(undefined, '10')), false);
  });

  it('enqueueOnChange: informer adds, spec updates and deletes enqueue; status-only updates do not', async () => {
    const clock = new FakeClock();
    const api = new FakeListWatcher();
    api.put('obj', {}, { generation: 1 });
    const informer = new Informer<TestObject>({ listWatcher: api, clock });
    const added: string[] = [];
    enqueueOnChange(informer, { add: (k) => added.push(k) });
    informer.start();
    await informer.waitForSync();
    api.put('obj', { status: 'ready' }, { generation: 1 });
    api.put('obj', { status: 'ready again' }, { generation: 1 });
    await settle();
    assert.deepEqual(added, ['ns/obj'], 'status writes did not enqueue');
    api.put('obj', { spec: 'changed' }, { generation: 2 });
    api.remove('obj');
    await settle();
    assert.deepEqual(added, ['ns/obj', 'ns/obj', 'ns/obj']);

    const owners: string[] = [];
    const stop = enqueueOnChange(informer, { add: (k) => owners.push(k) }, { keysOf: () => ['owner'] });
    api.put('owned');
    await settle();
    stop();
    api.put('owned', { v: '2' });
    await settle();
    assert.deepEqual(owners, ['owner']);
    await informer.stop();
  });
});
