import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { requireCapability } from '@meshguard/core/testing';
import { tunBinding } from '../../src/net/tun-binding.js';
import { TunDevice } from '../../src/net/tun-device.js';
import {
  allAvailable,
  netnsAvailable,
  pingAvailable,
  setprivAvailable,
  startFixture,
  Topology,
  tunAddonAvailable,
  tunAvailable,
  uniqueIfname,
  type Availability,
  type Fixture,
  type Namespace,
  type RunResult,
} from '../support/netns.js';
import type { ErrorReport } from './fixtures/child-io.js';

const tunInNetns = (...more: Availability[]): Availability =>
  allAvailable(netnsAvailable(), tunAvailable(), tunAddonAvailable(), ...more);

interface Counters {
  packetsRead: number;
  bytesRead: number;
  packetsWritten: number;
  bytesWritten: number;
  writeDrops: number;
}

function assertError(report: ErrorReport | null, type: string, errno?: string): void {
  assert.ok(report !== null, `expected a ${type}, got success`);
  assert.equal(report.type, type, report.message);
  assert.equal(report.code, type === 'TunError' ? 'io' : 'invalid-argument', report.message);
  if (errno !== undefined) assert.equal(report.errno, errno, report.message);
}

function pingReceived(output: string): number {
  return Number(/(\d+) received/.exec(output)?.[1] ?? -1);
}

describe('TunDevice: argument checks', () => {
  it('refuses interface names the kernel would refuse, before any system call', () => {
    for (const name of ['a'.repeat(16), 'é'.repeat(8), '', '.', '..', 'a/b', 'a:b', 'a b', 'tab\t']) {
      assert.throws(
        () => TunDevice.open(name),
        (err: unknown) => err instanceof ArgumentError && err.code === 'invalid-argument',
        JSON.stringify(name),
      );
    }
    assert.throws(() => TunDevice.open('x'.repeat(16)), /1-15 bytes, is 16/);
  });

  it('refuses bad read options', () => {
    assert.throws(() => TunDevice.open('mgopt0', { batchSize: 0 }), ArgumentError);
    assert.throws(() => TunDevice.open('mgopt0', { slotSize: 60 }), ArgumentError);
    assert.throws(() => TunDevice.open('mgopt0', { headroom: 16, slotSize: 80 }), ArgumentError);
  });

  it('the addon refuses long names too', (t) => {
    const cap = tunAddonAvailable();
    if (!requireCapability(t, cap.available, cap.reason)) return;
    assert.throws(() => tunBinding().open('y'.repeat(16)), TypeError);
    assert.throws(() => tunBinding().open('a/b'), TypeError);
  });
});

describe('TunDevice in a network namespace', () => {
  let topology: Topology | undefined;
  after(() => topology?.destroy());

  /** A new namespace running fixtures/<name>.js, given a fresh interface name and then `args`. */
  function startTunFixture(
    name: string,
    args: readonly string[] = [],
    wrapper?: readonly string[],
  ): { ns: Namespace; fixture: Fixture } {
    topology ??= new Topology();
    const ns = topology.namespace('tun');
    const script = new URL(`./fixtures/${name}.js`, import.meta.url);
    const argv = [uniqueIfname('mg'), ...args];
    return { ns, fixture: startFixture(topology, ns, script, argv, wrapper === undefined ? {} : { wrapper }) };
  }

  /** Runs argv in `ns` to completion; the status is the caller's to check. */
  const tryExec = (ns: Namespace, argv: readonly string[]): RunResult => topology!.tryExec(ns, argv);

  it('answers ping and ping -6 through a responder that reads and writes the TUN', async (t) => {
    const cap = tunInNetns(pingAvailable());
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { ns, fixture: responder } = startTunFixture('echo-responder', ['10.77.1.1/24', 'fd77:1::1/64']);
    assert.deepEqual(Object.keys((await responder.next()) as object), ['ready', 'name']);

    const v4 = tryExec(ns, ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.1.2']);
    assert.equal(v4.status, 0, v4.stdout + v4.stderr);
    assert.equal(pingReceived(v4.stdout), 3, v4.stdout);
    const v6 = tryExec(ns, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', 'fd77:1::2']);
    assert.equal(v6.status, 0, v6.stdout + v6.stderr);
    assert.equal(pingReceived(v6.stdout), 3, v6.stdout);

    const done = (await responder.finish()) as { replies: number; written: number; counters: Counters };
    assert.equal(done.replies, 6);
    assert.equal(done.written, 6);
    assert.equal(done.counters.packetsWritten, 6);
    assert.equal(done.counters.writeDrops, 0);
    assert.ok(done.counters.packetsRead >= 6);
    // 3 × 84-byte IPv4 and 3 × 104-byte IPv6 echo replies.
    assert.equal(done.counters.bytesWritten, 3 * 84 + 3 * 104);
  });

  it('answers a flood ping burst with batched writes', async (t) => {
    const cap = tunInNetns(pingAvailable());
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { ns, fixture: responder } = startTunFixture('echo-responder', ['10.77.2.1/24', 'fd77:2::1/64']);
    await responder.next();

    // -l 32 sends 32 requests back to back, so reads and writes come in batches.
    const flood = tryExec(ns, ['ping', '-f', '-l', '32', '-c', '200', '-W', '2', '10.77.2.2']);
    assert.equal(flood.status, 0, flood.stdout + flood.stderr);
    assert.equal(pingReceived(flood.stdout), 200, flood.stdout);

    const done = (await responder.finish()) as {
      batches: number;
      maxBatch: number;
      maxWriteBatch: number;
      replies: number;
      written: number;
    };
    t.diagnostic(`${done.replies} replies in ${done.batches} batches, largest read ${done.maxBatch}`);
    assert.equal(done.replies, 200);
    assert.equal(done.written, 200);
    assert.ok(done.batches < 200, 'some reads returned more than one packet');
  });

  it('returns packets queued before reading as one batch and writes them back in one writeBatch', async (t) => {
    const cap = tunInNetns();
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { fixture } = startTunFixture('batch-reflect', ['10.77.3.1/24', '10.77.3.2']);
    const result = (await fixture.next()) as {
      batchCounts: number[];
      udpInFirstBatch: number;
      written: number;
      received: string[];
      senders: string[];
      counters: Counters;
    };
    assert.equal(result.udpInFirstBatch, 20);
    assert.equal(result.written, 20);
    assert.deepEqual(
      result.received,
      Array.from({ length: 20 }, (_, i) => `datagram ${i}`),
    );
    assert.deepEqual(result.senders, ['10.77.3.2:9']);
    assert.equal(result.counters.packetsWritten, 20);
    assert.equal(result.counters.writeDrops, 0);
  });

  it('stops calling the handler after close(), stopReading() (also from inside it) or link deletion', async (t) => {
    const cap = tunInNetns();
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { fixture } = startTunFixture('close-stops');
    type Scenario = {
      callsAtClose: number;
      callsAfter: number;
      closed: boolean;
      linkExists: boolean;
      writeAfterClose: ErrorReport | null;
      configureAfterClose: ErrorReport | null;
      secondClose: ErrorReport | null;
      stopAfterClose: ErrorReport | null;
    };
    const result = (await fixture.next()) as {
      outside: Scenario;
      inside: Scenario;
      stopped: { callsWhileStopped: number; resumedPackets: number };
      deleted: { calls: number; errors: (ErrorReport | null)[]; writeAfterDelete: ErrorReport | null };
    };
    for (const [label, s] of Object.entries({ outside: result.outside, inside: result.inside })) {
      assert.ok(s.callsAtClose >= 1, `${label}: handler ran before close`);
      assert.equal(s.callsAfter, s.callsAtClose, `${label}: no handler call after close`);
      assert.equal(s.closed, true);
      assert.equal(s.linkExists, false, `${label}: closing removes the interface`);
      assertError(s.writeAfterClose, 'TunError', 'EBADF');
      assertError(s.configureAfterClose, 'TunError', 'EBADF');
      assert.equal(s.secondClose, null);
      assert.equal(s.stopAfterClose, null);
    }
    assert.equal(result.inside.callsAfter, 1);
    assert.equal(result.stopped.callsWhileStopped, 1);
    assert.ok(result.stopped.resumedPackets > 0, 'packets queued while stopped reach the next handler');
    assert.equal(result.deleted.errors.length, 1, 'a deleted interface ends reading once, through onError');
    assertError(result.deleted.errors[0]!, 'TunError', 'EBADFD');
    assertError(result.deleted.writeAfterDelete, 'TunError', 'EBADFD');
  });

  it('reports configuration failures as typed errors and applies nothing from a refused config', async (t) => {
    const cap = tunInNetns();
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { fixture } = startTunFixture('configure-errors');
    const r = (await fixture.next()) as Record<string, ErrorReport | null> & {
      mtuAfterBadAddress: number;
      mtuAfterValid: number;
    };
    assertError(r['badAddress']!, 'ArgumentError');
    assert.equal(r.mtuAfterBadAddress, 1500, 'the MTU of a refused config was not applied');
    assertError(r['badPrefixLength']!, 'ArgumentError');
    assertError(r['routeWithHostBits']!, 'ArgumentError');
    assertError(r['mtuTooSmall']!, 'ArgumentError');
    assertError(r['mtuAboveSlot']!, 'ArgumentError');
    assertError(r['ipv6WithSmallMtu']!, 'TunError', 'EINVAL');
    assertError(r['routeWhileDown']!, 'TunError', 'ENETDOWN');
    assertError(r['sameNameTwice']!, 'TunError', 'EBUSY');
    assertError(r['nameOfOtherKind']!, 'TunError', 'EINVAL');
    assertError(r['deleteMissingLink']!, 'TunError', 'ENODEV');
    assert.equal(r['valid'], null);
    assert.equal(r['idempotent'], null, 'configuring the same thing twice is not an error');
    assert.equal(r.mtuAfterValid, 1420);
  });

  it('says CAP_NET_ADMIN is missing when it is', async (t) => {
    const cap = tunInNetns(setprivAvailable());
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const { fixture: probe } = startTunFixture(
      'open-probe',
      [],
      ['setpriv', '--inh-caps=-all', '--bounding-set=-net_admin', '--'],
    );
    const { error } = (await probe.next()) as { error: ErrorReport | null };
    assertError(error, 'TunError', 'EPERM');
    assert.match(error!.message, /CAP_NET_ADMIN/);
  });
});
