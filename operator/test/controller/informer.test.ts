import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { Informer, type InformerOptions, KubeApiError, KubeTransportError } from '@meshguard/core/kube';
import { FakeClock, settle } from './fake-clock.js';
import { FakeListWatcher, type TestObject } from './fake-list-watcher.js';

function setup(options: Partial<InformerOptions<TestObject>> = {}): {
  readonly clock: FakeClock;
  readonly api: FakeListWatcher;
  readonly informer: Informer<TestObject>;
  readonly log: string[];
  readonly errors: string[];
} {
  const clock = new FakeClock();
  const api = new FakeListWatcher();
  const errors: string[] = [];
  const informer = new Informer<TestObject>({
    listWatcher: api,
    clock,
    random: () => 0,
    watchdogMs: 60_000,
    onError: (err, during) => errors.push(`${during}: ${err instanceof Error ? err.message : String(err)}`),
    ...options,
  });
  const log: string[] = [];
  informer.addHandlers({
    add: (o) => log.push(`add ${o.metadata.name}`),
    update: (a, b) =>
      log.push(`update ${b.metadata.name} ${a.metadata.resourceVersion ?? ''}→${b.metadata.resourceVersion ?? ''}`),
    delete: (o, unknown) => log.push(`delete ${o.metadata.name}${unknown ? ' (final state unknown)' : ''}`),
  });
  return { clock, api, informer, log, errors };
}

function expired(): KubeApiError {
  return new KubeApiError(410, 'Expired', 'too old resource version');
}

describe('Informer', () => {
  it('lists, syncs, then applies watched adds, updates and deletes to its store and handlers', async () => {
    const { api, informer, log } = setup();
    api.put('a');
    api.put('b');
    const listedAt = api.resourceVersion;
    informer.start();
    assert.equal(await informer.waitForSync(), true);
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(informer.keys().sort(), ['ns/a', 'ns/b']);
    assert.deepEqual(api.watchCalls, [listedAt], 'the watch resumes exactly where the list ended');

    api.put('c', { v: '1' });
    const aBefore = informer.get('ns/a')?.metadata.resourceVersion ?? '';
    const a = api.put('a', { v: '2' });
    api.remove('b');
    await settle();
    assert.deepEqual(log, [
      'add a',
      'add b',
      'add c',
      `update a ${aBefore}→${a.metadata.resourceVersion ?? ''}`,
      'delete b',
    ]);
    assert.deepEqual(informer.get('ns/a')?.data, { v: '2' });
    assert.equal(informer.get('ns/b'), undefined);
    assert.equal(informer.stats.resourceVersion, api.resourceVersion);
    await informer.stop();
    assert.equal(api.watching, false, 'stop ends the watch');
  });

  it('re-lists after a 410 ERROR event and reports what the watch missed, deletions included', async () => {
    const { api, informer, log } = setup();
    api.put('keep');
    api.put('gone');
    api.put('changed');
    informer.start();
    await informer.waitForSync();
    log.length = 0;

    api.deaf = true; // the events below never reach the informer
    api.remove('gone');
    api.put('new');
    const changed = api.put('changed', { v: '2' });
    api.deaf = false;
    api.sendError({ type: 'ERROR', error: expired() });
    await settle();

    const rv = changed.metadata.resourceVersion ?? '';
    assert.deepEqual(log.sort(), ['add new', 'delete gone (final state unknown)', `update changed 103→${rv}`].sort());
    assert.deepEqual(informer.keys().sort(), ['ns/changed', 'ns/keep', 'ns/new']);
    const stats = informer.stats;
    assert.equal(stats.lists, 2);
    assert.equal(stats.expired, 1);
    assert.equal(api.watchCalls.at(-1), api.resourceVersion, 'watching again from the fresh list');
    await informer.stop();
  });

  it('re-lists when the watch request itself answers 410, and sees a re-created object as delete + add', async () => {
    const { clock, api, informer, log } = setup();
    api.put('x');
    informer.start();
    await informer.waitForSync();
    await clock.advance(5000);
    const oldUid = informer.get('ns/x')?.metadata.uid;
    log.length = 0;
    api.recreateUnseen('x');
    api.watchScript.push({ kind: 'fail', error: expired() });
    api.endWatch(); // orderly end; the next watch gets 410
    await settle();
    assert.deepEqual(log, ['delete x (final state unknown)', 'add x']);
    assert.notEqual(informer.get('ns/x')?.metadata.uid, oldUid);
    assert.equal(informer.stats.lists, 2);
    await informer.stop();
  });

  it('after watch errors backs off 800 ms doubling to 30 s, resuming from the last resourceVersion without a re-list', async () => {
    const { clock, api, informer, errors } = setup();
    api.put('a');
    informer.start();
    await informer.waitForSync();
    const rv = api.resourceVersion;
    for (let i = 0; i < 8; i++)
      api.watchScript.push({ kind: 'fail', error: new KubeTransportError('connection refused') });
    const started = clock.now();
    api.endWatch(new KubeTransportError('connection reset'));
    await settle();
    const times: number[] = [];
    while (api.watchCalls.length < 10) {
      await clock.advanceToNext();
      times.push(clock.now() - started);
    }
    const gaps = times.map((t, i) => t - (i === 0 ? 0 : (times[i - 1] ?? 0)));
    assert.deepEqual(gaps, [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000]);
    assert.ok(api.watchCalls.every((v) => v === rv));
    assert.equal(api.listCalls, 1);
    assert.equal(informer.stats.watchErrors, 9);
    assert.match(errors[0] ?? '', /^watch: connection reset/);

    // A delivered event proves the path again: the next failure starts over at 800 ms.
    api.put('b');
    await settle();
    api.endWatch(new KubeTransportError('reset again'));
    await settle();
    const before = clock.now();
    await clock.advanceToNext();
    assert.equal(clock.now() - before, 800);
    assert.equal(api.watchCalls.length, 11);
    await informer.stop();
  });

  it('restarts a watch that stays silent for the watchdog period, and a connect that never completes', async () => {
    const { clock, api, informer } = setup({ watchdogMs: 10_000 });
    api.put('a');
    informer.start();
    await informer.waitForSync();
    await clock.advance(9_999);
    assert.equal(api.watchCalls.length, 1, 'alive until the watchdog period has passed');
    api.watchScript.push({ kind: 'hang' });
    await clock.advance(1);
    assert.equal(informer.stats.watchdogRestarts, 1);
    assert.equal(api.stopsCalled, 1, 'the silent stream was closed');
    assert.equal(api.watchCalls.length, 2, 'reopened at once');
    await clock.advance(10_000);
    assert.equal(informer.stats.watchdogRestarts, 2, 'the hung connect was given up too');
    assert.equal(api.watchCalls.length, 3);
    api.releaseHung(); // arrives late: must be closed, not adopted
    await settle();
    assert.equal(api.stopsCalled, 2);
    api.put('b');
    await settle();
    assert.ok(informer.get('ns/b') !== undefined, 'the fresh watch delivers');
    assert.equal(new Set(api.watchCalls).size, 1, 'every restart resumed from the same version: no re-list');
    assert.equal(informer.stats.lists, 1);
    // Events keep the watchdog quiet.
    for (let i = 0; i < 5; i++) {
      await clock.advance(9_000);
      api.bookmark();
    }
    assert.equal(informer.stats.watchdogRestarts, 2);
    await informer.stop();
  });

  it('reopens at once after an orderly end, but backs off when streams end at once with nothing in them', async () => {
    const { clock, api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await clock.advance(5000);
    api.endWatch();
    await settle();
    assert.equal(api.watchCalls.length, 2, 'orderly end (server timeout, client inactivity timer): reopened at once');
    api.endWatch();
    await settle();
    assert.equal(api.watchCalls.length, 2, 'closed within a second with no event: a failure, backed off');
    await clock.advance(800);
    assert.equal(api.watchCalls.length, 3);
    api.bookmark();
    assert.equal(informer.stats.resourceVersion, api.resourceVersion, 'a bookmark moves the resume point');
    await informer.stop();
  });

  it('retries a failing list with backoff and is not synced until one succeeds', async () => {
    const { clock, api, informer } = setup();
    api.listFailures.push(new KubeApiError(503, 'ServiceUnavailable', 'etcd down'), new Error('reset'));
    informer.start();
    const synced = informer.waitForSync();
    await settle();
    assert.equal(informer.hasSynced(), false);
    await clock.advance(800);
    assert.equal(informer.hasSynced(), false);
    await clock.advance(1600);
    assert.equal(await synced, true);
    assert.equal(api.listCalls, 3);
    assert.equal(informer.stats.listErrors, 2);
    await informer.stop();
  });

  it('survives a throwing handler, replays the store to late handlers, and stops cleanly before sync', async () => {
    const { api, informer, errors } = setup();
    api.put('a');
    informer.addHandlers({
      add: () => {
        throw new Error('handler bug');
      },
    });
    informer.start();
    await informer.waitForSync();
    assert.deepEqual(errors, ['handler: handler bug']);
    const late: string[] = [];
    informer.addHandlers({ add: (o) => late.push(o.metadata.name) });
    assert.deepEqual(late, ['a']);
    const remove = informer.addHandlers({ add: (o) => late.push(`again ${o.metadata.name}`) });
    remove();
    api.put('b');
    await settle();
    assert.deepEqual(late, ['a', 'again a', 'b']);
    await informer.stop();

    const never = setup();
    never.api.listFailures.push(new Error('down'));
    never.informer.start();
    const waiting = never.informer.waitForSync();
    await never.informer.stop();
    assert.equal(await waiting, false);
    assert.equal(never.clock.pending, 0, 'no timer left behind');
  });

  it('rejects nonsensical timings', () => {
    const api = new FakeListWatcher();
    assert.throws(() => new Informer({ listWatcher: api, watchdogMs: 0 }), ArgumentError);
    assert.throws(() => new Informer({ listWatcher: api, maxBackoffMs: Number.NaN }), ArgumentError);
  });
});
