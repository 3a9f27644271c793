import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { after, describe, it, type TestContext } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { requireCapability } from '@meshguard/core/testing';
import { NativeUdpSocket, type DatagramTransport, type NativeUdpOptions } from '../../src/net/native-udp-socket.js';
import { tunBinding } from '../../src/net/tun-binding.js';
import type { UdpReadBatch } from '../../src/net/udp-batch.js';
import { UdpError } from '../../src/net/udp-error.js';
import { UdpSocket } from '../../src/net/udp-socket.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';
import { tunAddonAvailable } from '../support/netns.js';

// Loopback in this process's own namespace: needs the addon, not root. The veth tests, in
// network namespaces, are in native-udp-veth.test.ts.

const sockets: { close(): void }[] = [];
after(() => {
  for (const s of sockets) s.close();
});

function bind(port = 0, address?: string, options?: NativeUdpOptions): NativeUdpSocket {
  const s = NativeUdpSocket.bindSync(port, address, options);
  sockets.push(s);
  return s;
}

async function dgram(type: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const s = createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, address, resolve));
  sockets.push(s);
  return s;
}

function addon(t: TestContext): boolean {
  const cap = tunAddonAvailable();
  return requireCapability(t, cap.available, cap.reason);
}

let ipv6Probe: { available: boolean; reason: string } | undefined;
/** Containers may run without IPv6 (no ::1); such a host skips, or fails under CI. */
function ipv6(t: TestContext): boolean {
  if (!addon(t)) return false;
  if (ipv6Probe === undefined) {
    try {
      NativeUdpSocket.bindSync(0, '::1').close();
      ipv6Probe = { available: true, reason: 'IPv6 loopback' };
    } catch (err) {
      ipv6Probe = { available: false, reason: `no IPv6 loopback: ${String(err)}` };
    }
  }
  return requireCapability(t, ipv6Probe.available, ipv6Probe.reason);
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

interface Got {
  readonly text: string;
  readonly from: UdpEndpoint;
  readonly family: 4 | 6;
}

/** Starts reading and collects every datagram as text with its source. */
function collect(s: NativeUdpSocket): Got[] {
  const got: Got[] = [];
  s.onDatagrams((batch) => {
    for (let i = 0; i < batch.count; i++) {
      got.push({ text: decode(batch.datagram(i)), from: batch.endpoint(i), family: batch.family(i) });
    }
  });
  return got;
}

function dgramReceived(s: Socket): { text: string; from: RemoteInfo }[] {
  const got: { text: string; from: RemoteInfo }[] = [];
  s.on('message', (msg, from) => got.push({ text: msg.toString(), from }));
  return got;
}

/** `batch`'s arrays copied, since they are valid only during the callback. */
function snapshot(batch: UdpReadBatch): { count: number; texts: string[]; offsets: number[] } {
  const texts: string[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < batch.count; i++) {
    texts.push(decode(batch.datagram(i)));
    offsets.push(batch.offset(i));
  }
  return { count: batch.count, texts, offsets };
}

function isUdpError(errno: string): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof UdpError, String(err));
    assert.equal(err.code, 'io');
    assert.equal(err.errno, errno, err.message);
    return true;
  };
}

describe('NativeUdpSocket: bind', () => {
  it('binds port 0 to an ephemeral port, dual-stack by default, with large buffers', (t) => {
    if (!addon(t)) return;
    const s = bind();
    assert.ok(s.port > 0 && s.port <= 65535, String(s.port));
    assert.equal(s.family, 6);
    // The kernel reports double what was granted; 4 MiB asked means at least the 208 KiB default max.
    assert.ok(s.receiveBufferSize >= 2 * 212_992, String(s.receiveBufferSize));
    assert.ok(s.sendBufferSize >= 2 * 212_992, String(s.sendBufferSize));
    assert.equal(bind(0, '127.0.0.1').family, 4);
    assert.equal(bind(0, '0.0.0.0').family, 4);
  });

  it('binds the requested port and frees it on close', (t) => {
    if (!addon(t)) return;
    const first = bind();
    const port = first.port;
    first.close();
    const again = bind(port);
    assert.equal(again.port, port);
  });

  it('refuses a port in use with a typed EADDRINUSE, from another native socket or node:dgram', async (t) => {
    if (!addon(t)) return;
    const s = bind();
    assert.throws(() => NativeUdpSocket.bindSync(s.port), isUdpError('EADDRINUSE'));
    await assert.rejects(NativeUdpSocket.bind(s.port), isUdpError('EADDRINUSE'));
    const d = await dgram('udp4', '127.0.0.1');
    const port = d.address().port;
    assert.throws(
      () => NativeUdpSocket.bindSync(port, '127.0.0.1'),
      (err: unknown) => isUdpError('EADDRINUSE')(err) && /another socket is bound/.test((err as Error).message),
    );
  });

  it('refuses an address not on this host with EADDRNOTAVAIL, and bad arguments with ArgumentError', (t) => {
    if (!addon(t)) return;
    assert.throws(() => NativeUdpSocket.bindSync(0, '192.0.2.77'), isUdpError('EADDRNOTAVAIL'));
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => NativeUdpSocket.bindSync(port), ArgumentError, String(port));
    }
    for (const address of ['localhost', '1.2.3', '::1%lo', '[::1]', '']) {
      assert.throws(() => NativeUdpSocket.bindSync(0, address), ArgumentError, address);
    }
    assert.throws(() => NativeUdpSocket.bindSync(0, undefined, { batchSize: 0 }), ArgumentError);
    assert.throws(() => NativeUdpSocket.bindSync(0, undefined, { batchSize: 1025 }), ArgumentError);
    assert.throws(() => NativeUdpSocket.bindSync(0, undefined, { slotSize: 16, headroom: 16 }), ArgumentError);
    assert.throws(() => NativeUdpSocket.bindSync(0, undefined, { maxBatchesPerWake: 0 }), ArgumentError);
    assert.throws(() => NativeUdpSocket.bindSync(0, undefined, { receiveBufferSize: -1 }), ArgumentError);
  });
});

describe('NativeUdpSocket: loopback send and receive', () => {
  it('IPv4: delivers datagrams with the source as a dotted quad, never ::ffff:', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind(0, '127.0.0.1');
    const got = collect(receiver);
    assert.equal(sender.send(text('hello'), { address: '127.0.0.1', port: receiver.port }), true);
    assert.equal(sender.send(text(''), { address: '127.0.0.1', port: receiver.port }), true);
    await until(() => got.length === 2, 'two datagrams');
    assert.deepEqual(got, [
      { text: 'hello', from: { address: '127.0.0.1', port: sender.port }, family: 4 },
      { text: '', from: { address: '127.0.0.1', port: sender.port }, family: 4 },
    ]);
    const c = sender.counters();
    assert.equal(c.datagramsSent, 2);
    assert.equal(c.bytesSent, 5);
    const r = receiver.counters();
    assert.equal(r.datagramsReceived, 2);
    assert.equal(r.bytesReceived, 5);
  });

  it('IPv4 from a dual-stack socket reports the sender as IPv4 too, and sends to IPv4 peers', async (t) => {
    if (!addon(t)) return;
    const a = bind();
    const b = bind();
    const got = collect(b);
    assert.equal(a.send(text('mapped'), { address: '127.0.0.1', port: b.port }), true);
    await until(() => got.length === 1, 'one datagram');
    assert.deepEqual(got[0], { text: 'mapped', from: { address: '127.0.0.1', port: a.port }, family: 4 });
  });

  it('IPv6: delivers datagrams with the source in compressed form', async (t) => {
    if (!ipv6(t)) return;
    const receiver = bind(0, '::1');
    const sender = bind();
    const got = collect(receiver);
    sender.send(text('six'), { address: '0:0:0:0:0:0:0:1', port: receiver.port });
    await until(() => got.length === 1, 'one datagram');
    assert.deepEqual(got[0], { text: 'six', from: { address: '::1', port: sender.port }, family: 6 });
  });

  it('interoperates with node:dgram both ways, over IPv4 and IPv6', async (t) => {
    if (!ipv6(t)) return;
    const native = bind();
    const got = collect(native);
    const d4 = await dgram('udp4', '127.0.0.1');
    const d6 = await dgram('udp6', '::1');
    const d4got = dgramReceived(d4);
    const d6got = dgramReceived(d6);
    d4.send('from-d4', native.port, '127.0.0.1');
    d6.send('from-d6', native.port, '::1');
    await until(() => got.length === 2, 'datagrams from node:dgram');
    const byText = new Map(got.map((g) => [g.text, g]));
    assert.deepEqual(byText.get('from-d4')?.from, { address: '127.0.0.1', port: d4.address().port });
    assert.deepEqual(byText.get('from-d6')?.from, { address: '::1', port: d6.address().port });
    // Reply to exactly what was reported: the text round-trips through the send path.
    for (const g of got) native.send(text(`re:${g.text}`), g.from);
    await until(() => d4got.length === 1 && d6got.length === 1, 'replies at node:dgram');
    assert.equal(d4got[0]!.text, 're:from-d4');
    assert.deepEqual([d4got[0]!.from.address, d4got[0]!.from.port], ['127.0.0.1', native.port]);
    assert.equal(d6got[0]!.text, 're:from-d6');
    assert.deepEqual([d6got[0]!.from.address, d6got[0]!.from.port], ['::1', native.port]);
  });

  it('UdpSocket (node:dgram) and NativeUdpSocket are interchangeable as a DatagramTransport', async (t) => {
    if (!addon(t)) return;
    // What the runtime holds: either socket, through the same interface.
    const transports: DatagramTransport[] = [await UdpSocket.bind(0), await NativeUdpSocket.bind(0)];
    sockets.push(...transports);
    const got: string[] = [];
    transports.forEach((self, i) => {
      const other = transports[1 - i]!;
      self.onDatagram((data, from) => {
        got.push(`${i}:${decode(data)}:${from.address}:${from.port === other.port}`);
      });
    });
    transports[0]!.send(text('to-native'), { address: '127.0.0.1', port: transports[1]!.port });
    transports[1]!.send(text('to-dgram'), { address: '127.0.0.1', port: transports[0]!.port });
    await until(() => got.length === 2, 'both datagrams');
    assert.deepEqual(got.sort(), ['0:to-dgram:127.0.0.1:true', '1:to-native:127.0.0.1:true']);
  });

  it('per-datagram onDatagram copies by default, or passes views with copy: false', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const kept: { data: Uint8Array; from: UdpEndpoint }[] = [];
    receiver.onDatagram((data, from) => kept.push({ data, from }));
    for (const s of ['one', 'two', 'three']) sender.send(text(s), { address: '127.0.0.1', port: receiver.port });
    await until(() => kept.length === 3, 'three datagrams');
    // Copies survive later batches overwriting the receive buffer.
    sender.send(text('XXXXXXXX'), { address: '127.0.0.1', port: receiver.port });
    await until(() => kept.length === 4, 'a fourth datagram');
    assert.deepEqual(
      kept.map((k) => decode(k.data)),
      ['one', 'two', 'three', 'XXXXXXXX'],
    );
    // One cached endpoint object per source.
    assert.equal(kept[0]!.from, kept[3]!.from);
    assert.ok(Object.isFrozen(kept[0]!.from));

    const views: Uint8Array[] = [];
    receiver.onDatagram((data) => views.push(data), { copy: false });
    sender.send(text('view'), { address: '127.0.0.1', port: receiver.port });
    await until(() => views.length === 1, 'a view');
    assert.equal(views[0]!.buffer.byteLength >= 64 * 2048, true, 'a view into the shared receive buffer');
  });
});

describe('NativeUdpSocket: batches', () => {
  it('returns a burst queued before reading as one batch, in order, in fixed slots', async (t) => {
    if (!addon(t)) return;
    const receiver = bind(0, undefined, { headroom: 16 });
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    for (let i = 0; i < 40; i++) assert.equal(sender.send(text(`burst ${i}`), to), true);
    // Loopback delivers within send(), unless a loaded kernel defers it to ksoftirqd: give it a moment.
    await sleep(20);
    const batches: ReturnType<typeof snapshot>[] = [];
    let sameEndpoint = true;
    receiver.onDatagrams((batch) => {
      batches.push(snapshot(batch));
      for (let i = 1; i < batch.count; i++) sameEndpoint &&= batch.endpoint(i) === batch.endpoint(0);
    });
    await until(() => batches.reduce((n, b) => n + b.count, 0) === 40, 'the burst');
    assert.equal(batches.length, 1, 'one callback for the whole burst');
    assert.deepEqual(
      batches[0]!.texts,
      Array.from({ length: 40 }, (_, i) => `burst ${i}`),
    );
    assert.deepEqual(
      batches[0]!.offsets,
      Array.from({ length: 40 }, (_, i) => i * 2048 + 16),
    );
    assert.ok(sameEndpoint, 'the same source yields the same cached endpoint object');
    const c = receiver.counters();
    assert.equal(c.receiveBatches, 1);
    assert.equal(c.datagramsReceived, 40);
  });

  it('splits a burst into batches of batchSize within one wake-up, up to maxBatchesPerWake', async (t) => {
    if (!addon(t)) return;
    const receiver = bind(0, undefined, { batchSize: 8, maxBatchesPerWake: 3 });
    const sender = bind();
    for (let i = 0; i < 40; i++) sender.send(text(`d${i}`), { address: '127.0.0.1', port: receiver.port });
    await sleep(20);
    const counts: number[] = [];
    const texts: string[] = [];
    const ticks: number[] = [];
    let tick = 0;
    // Immediates run once per event-loop turn, right after polling: batches of one wake-up see the same value.
    let ticking = true;
    const turn = (): void => {
      tick++;
      if (ticking) setImmediate(turn);
    };
    setImmediate(turn);
    receiver.onDatagrams((batch) => {
      counts.push(batch.count);
      ticks.push(tick);
      for (let i = 0; i < batch.count; i++) texts.push(decode(batch.datagram(i)));
    });
    await until(() => texts.length === 40, 'every datagram');
    ticking = false;
    assert.deepEqual(counts, [8, 8, 8, 8, 8]);
    assert.deepEqual(
      texts,
      Array.from({ length: 40 }, (_, i) => `d${i}`),
    );
    // At most three batches per wake-up: the loop got a turn between the third and the fourth.
    assert.equal(ticks[0], ticks[2]);
    assert.notEqual(ticks[2], ticks[3]);
  });

  it('drops (and counts) datagrams longer than a slot instead of delivering them cut short', async (t) => {
    if (!addon(t)) return;
    const receiver = bind(0, undefined, { slotSize: 128, headroom: 28 });
    assert.equal(receiver.maxDatagramSize, 100);
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    sender.send(new Uint8Array(100).fill(1), to);
    sender.send(new Uint8Array(101).fill(2), to);
    sender.send(new Uint8Array(5000).fill(3), to);
    sender.send(new Uint8Array(7).fill(4), to);
    const got: number[][] = [];
    receiver.onDatagrams((batch) => {
      for (let i = 0; i < batch.count; i++) got.push([batch.length(i), batch.datagram(i)[0]!]);
    });
    await until(() => got.length === 2, 'the datagrams that fit');
    await sleep(20);
    assert.deepEqual(got, [
      [100, 1],
      [7, 4],
    ]);
    assert.equal(receiver.counters().receiveTruncated, 2);
    assert.equal(receiver.counters().datagramsReceived, 2);
  });

  it('sendBatch sends to several destinations, IPv4 and IPv6, in one call', async (t) => {
    if (!ipv6(t)) return;
    const sender = bind();
    const r4 = bind(0, '127.0.0.1');
    const r6 = bind(0, '::1');
    const rDual = bind();
    const got4 = collect(r4);
    const got6 = collect(r6);
    const gotDual = collect(rDual);
    const buffer = new Uint8Array(64);
    const batch = sender.createSendBatch(8);
    const add = (at: number, s: string, to: UdpEndpoint): void => {
      buffer.set(text(s), at);
      batch.add(at, s.length, to);
    };
    add(0, 'to-r4-a', { address: '127.0.0.1', port: r4.port });
    add(8, 'to-r6', { address: '::1', port: r6.port });
    add(16, 'to-r4-b', { address: '127.0.0.1', port: r4.port });
    add(24, 'to-dual', { address: '::1', port: rDual.port });
    add(32, 'to-dual4', { address: '127.0.0.1', port: rDual.port });
    assert.deepEqual(batch.destination(1), { address: '::1', port: r6.port });
    const sent = sender.sendBatch(buffer, batch.offsets, batch.lengths, batch.addresses, batch.ports, batch.count);
    assert.equal(sent, 5);
    // The caller may reuse its buffer at once: everything was copied.
    buffer.fill(0);
    await until(() => got4.length === 2 && got6.length === 1 && gotDual.length === 2, 'all five');
    assert.deepEqual(
      got4.map((g) => g.text),
      ['to-r4-a', 'to-r4-b'],
    );
    assert.deepEqual(got6[0], { text: 'to-r6', from: { address: '::1', port: sender.port }, family: 6 });
    assert.deepEqual(
      gotDual.map((g) => [g.text, g.from.address, g.family]),
      [
        ['to-dual', '::1', 6],
        ['to-dual4', '127.0.0.1', 4],
      ],
    );
    assert.equal(sender.counters().datagramsSent, 5);
  });

  it('replies to a whole read batch with its own addresses and ports (addReply)', async (t) => {
    if (!addon(t)) return;
    const echo = bind();
    const replies = echo.createSendBatch(64);
    echo.onDatagrams((batch) => {
      replies.clear();
      for (let i = 0; i < batch.count; i++) replies.addReply(batch.offset(i), batch.length(i), batch, i);
      echo.sendBatch(batch.buffer, replies.offsets, replies.lengths, replies.addresses, replies.ports, replies.count);
    });
    const a = bind(0, '127.0.0.1');
    const b = bind();
    const gotA = collect(a);
    const gotB = collect(b);
    for (let i = 0; i < 5; i++) {
      a.send(text(`a${i}`), { address: '127.0.0.1', port: echo.port });
      b.send(text(`b${i}`), { address: '127.0.0.1', port: echo.port });
    }
    await until(() => gotA.length === 5 && gotB.length === 5, 'echoes');
    assert.deepEqual(
      gotA.map((g) => g.text),
      ['a0', 'a1', 'a2', 'a3', 'a4'],
    );
    assert.deepEqual(
      gotB.map((g) => g.text),
      ['b0', 'b1', 'b2', 'b3', 'b4'],
    );
  });

  it('counts datagrams refused for their destination and still sends the rest of the batch', async (t) => {
    if (!addon(t)) return;
    const v4only = bind(0, '127.0.0.1');
    const receiver = bind();
    const got = collect(receiver);
    // An IPv4 socket cannot reach an IPv6 peer: refused, counted, not thrown.
    assert.equal(v4only.send(text('x'), { address: '::1', port: receiver.port }), false);
    assert.equal(v4only.counters().lastSendError, 'EAFNOSUPPORT');
    const buffer = text('abc');
    const batch = v4only.createSendBatch(3);
    batch.add(0, 1, { address: '127.0.0.1', port: receiver.port });
    batch.add(1, 1, { address: '::1', port: receiver.port });
    batch.add(2, 1, { address: '127.0.0.1', port: receiver.port });
    // Port 0 can only get past the TS checks in raw arrays; the kernel refuses it (EINVAL).
    const ports = batch.ports.slice();
    ports[2] = 0;
    assert.equal(v4only.sendBatch(buffer, batch.offsets, batch.lengths, batch.addresses, ports, 3), 1);
    assert.equal(v4only.sendBatch(buffer, batch.offsets, batch.lengths, batch.addresses, batch.ports, 3), 2);
    await until(() => got.length === 3, 'the datagrams that could go');
    assert.deepEqual(
      got.map((g) => g.text),
      ['a', 'a', 'c'],
    );
    const c = v4only.counters();
    assert.equal(c.sendErrors, 4);
    assert.equal(c.sendDrops, 0);
    assert.equal(c.datagramsSent, 3);
    assert.equal(v4only.sendErrors, 4);
  });
});

describe('NativeUdpSocket: bounds checks', () => {
  function arrays(n: number): {
    offsets: Uint32Array;
    lengths: Uint32Array;
    addresses: Uint8Array;
    ports: Uint16Array;
  } {
    return {
      offsets: new Uint32Array(n),
      lengths: new Uint32Array(n).fill(1),
      addresses: new Uint8Array(n * 16),
      ports: new Uint16Array(n),
    };
  }

  it('refuses a whole sendBatch with any index or range out of bounds, sending nothing', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const got = collect(receiver);
    const sender = bind();
    const buffer = new Uint8Array(100);
    const good = arrays(4);
    const to = sender.createSendBatch(4);
    for (let i = 0; i < 4; i++) to.add(i, 1, { address: '127.0.0.1', port: receiver.port });
    good.addresses.set(to.addresses);
    good.ports.set(to.ports);
    const { offsets, lengths, addresses, ports } = good;
    const cases: [string, () => number][] = [
      ['count > offsets', () => sender.sendBatch(buffer, offsets.subarray(0, 3), lengths, addresses, ports, 4)],
      ['count > lengths', () => sender.sendBatch(buffer, offsets, lengths.subarray(0, 3), addresses, ports, 4)],
      ['count > ports', () => sender.sendBatch(buffer, offsets, lengths, addresses, ports.subarray(0, 3), 4)],
      ['count > addresses', () => sender.sendBatch(buffer, offsets, lengths, addresses.subarray(0, 63), ports, 4)],
      [
        'offset past the end',
        () => sender.sendBatch(buffer, Uint32Array.of(0, 0, 0, 100), lengths, addresses, ports, 4),
      ],
      [
        'range past the end',
        () => sender.sendBatch(buffer, Uint32Array.of(0, 0, 0, 99), Uint32Array.of(1, 1, 1, 2), addresses, ports, 4),
      ],
      [
        'offset + length wrapping 2^32',
        () =>
          sender.sendBatch(
            buffer,
            Uint32Array.of(0, 0, 0, 0xffffffff),
            Uint32Array.of(1, 1, 1, 2),
            addresses,
            ports,
            4,
          ),
      ],
      [
        'longer than 65507',
        () => sender.sendBatch(new Uint8Array(65508), offsets, Uint32Array.of(1, 1, 1, 65508), addresses, ports, 4),
      ],
      ['negative count', () => sender.sendBatch(buffer, offsets, lengths, addresses, ports, -1)],
      ['fractional count', () => sender.sendBatch(buffer, offsets, lengths, addresses, ports, 1.5)],
    ];
    for (const [label, call] of cases) assert.throws(call, ArgumentError, label);
    // Wrong array types are refused too, however they are spelled (the casts get past TS).
    const asU32 = (v: unknown): Uint32Array => v as Uint32Array;
    const asU16 = (v: unknown): Uint16Array => v as Uint16Array;
    const asU8 = (v: unknown): Uint8Array => v as Uint8Array;
    const typeCases: [string, () => number][] = [
      ['offsets as Uint8Array', () => sender.sendBatch(buffer, asU32(new Uint8Array(4)), lengths, addresses, ports, 4)],
      ['lengths as plain array', () => sender.sendBatch(buffer, offsets, asU32([1, 1, 1, 1]), addresses, ports, 4)],
      [
        'ports as Uint32Array',
        () => sender.sendBatch(buffer, offsets, lengths, addresses, asU16(new Uint32Array(4)), 4),
      ],
      [
        'addresses as Uint16Array',
        () => sender.sendBatch(buffer, offsets, lengths, asU8(new Uint16Array(32)), ports, 4),
      ],
      [
        'buffer as ArrayBuffer',
        () => sender.sendBatch(asU8(new ArrayBuffer(100)), offsets, lengths, addresses, ports, 4),
      ],
    ];
    for (const [label, call] of typeCases) assert.throws(call, ArgumentError, label);
    assert.equal(sender.counters().datagramsSent, 0, 'nothing was sent');
    // The same arrays, in bounds, do go out.
    assert.equal(sender.sendBatch(buffer, offsets, lengths, addresses, ports, 4), 4);
    await until(() => got.length === 4, 'the good batch');
    assert.equal(sender.sendBatch(buffer, offsets, lengths, addresses, ports, 0), 0);
  });

  it('refuses bad single sends and destinations with ArgumentError', (t) => {
    if (!addon(t)) return;
    const s = bind();
    for (const to of [
      { address: 'example.org', port: 1 },
      { address: '10.0.0.256', port: 1 },
      { address: 'fe80::1%eth0', port: 1 },
      { address: '127.0.0.1', port: 0 },
      { address: '127.0.0.1', port: 65536 },
      { address: '127.0.0.1', port: 1.5 },
    ]) {
      assert.throws(() => s.send(text('x'), to), ArgumentError, JSON.stringify(to));
    }
    assert.throws(() => s.send(new Uint8Array(65508), { address: '127.0.0.1', port: 9 }), ArgumentError);
    const batch = s.createSendBatch(1);
    assert.throws(() => batch.add(-1, 1, { address: '127.0.0.1', port: 9 }), ArgumentError);
    assert.throws(() => batch.add(0, 2 ** 32, { address: '127.0.0.1', port: 9 }), ArgumentError);
    assert.throws(() => batch.add(0, 1, { address: 'nope', port: 9 }), ArgumentError);
    batch.add(0, 1, { address: '127.0.0.1', port: 9 });
    assert.throws(() => batch.add(0, 1, { address: '127.0.0.1', port: 9 }), /full/);
    assert.throws(() => batch.destination(1), ArgumentError);
    assert.equal(s.counters().datagramsSent, 0);
  });

  it('the addon itself refuses bad arguments before touching memory', (t) => {
    if (!addon(t)) return;
    const native = tunBinding();
    const s = bind();
    const opened = native.udpOpen(null, 0, 0, 0);
    const h = opened.handle;
    try {
      const buffer = new Uint8Array(10);
      const u32 = (n: number): Uint32Array => new Uint32Array(n);
      assert.throws(
        () => native.udpSendBatch(h, buffer, u32(1), u32(1), new Uint8Array(16), new Uint16Array(1), 2),
        RangeError,
      );
      assert.throws(
        () =>
          native.udpSendBatch(
            h,
            buffer,
            Uint32Array.of(5),
            Uint32Array.of(6),
            new Uint8Array(16),
            new Uint16Array(1),
            1,
          ),
        RangeError,
      );
      assert.throws(() => native.udpSend(h, buffer, new Uint8Array(4), 9), RangeError);
      assert.throws(() => native.udpSend(h, buffer, new Uint8Array(16), 65536), RangeError);
      const asHandle = (v: unknown): typeof h => v as typeof h;
      assert.throws(() => native.udpSend(asHandle({}), buffer, new Uint8Array(16), 9), TypeError);
      assert.throws(() => native.udpClose(asHandle(42)), TypeError);
      // Whole numbers only: 0.5 is not read as 0, nor -1 as 4294967295.
      const one = (): [Uint32Array, Uint32Array, Uint8Array, Uint16Array] => [
        Uint32Array.of(0),
        Uint32Array.of(1),
        new Uint8Array(16),
        new Uint16Array(1),
      ];
      assert.throws(() => native.udpSendBatch(h, buffer, ...one(), 0.5), RangeError);
      assert.throws(() => native.udpSendBatch(h, buffer, ...one(), -1), RangeError);
      assert.throws(() => native.udpSend(h, buffer, new Uint8Array(16), 9.5), RangeError);
      const noop = (): void => undefined;
      const read = (slot: number, batch: number, sizes: [number, number, number, number, number]): void => {
        native.udpStartReading(
          h,
          new Uint8Array(sizes[0]),
          slot,
          0,
          new Uint32Array(sizes[1]),
          new Uint8Array(sizes[2]),
          new Uint16Array(sizes[3]),
          new Uint8Array(sizes[4]),
          batch,
          1,
          noop,
        );
      };
      assert.throws(() => read(100, 4, [399, 4, 64, 4, 4]), RangeError, 'buffer too small');
      assert.throws(() => read(100, 4, [400, 3, 64, 4, 4]), RangeError, 'lengths too short');
      assert.throws(() => read(100, 4, [400, 4, 63, 4, 4]), RangeError, 'addresses too short');
      assert.throws(() => read(100, 4, [400, 4, 64, 3, 4]), RangeError, 'ports too short');
      assert.throws(() => read(100, 4, [400, 4, 64, 4, 3]), RangeError, 'families too short');
      assert.throws(() => read(100, 0, [400, 4, 64, 4, 4]), RangeError, 'batch 0');
      assert.throws(() => read(0, 4, [400, 4, 64, 4, 4]), RangeError, 'slot 0');
      assert.throws(() => native.udpOpen(new Uint8Array(5), 0, 0, 0), RangeError);
      assert.throws(() => native.udpOpen(null, 65536, 0, 0), RangeError);
      native.udpStopReading(h);
      assert.ok(s.port > 0);
    } finally {
      native.udpClose(h);
    }
  });

  it('a read batch refuses indices outside it, also after the callback', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    let kept: UdpReadBatch | undefined;
    receiver.onDatagrams((batch) => {
      kept = batch;
      assert.throws(() => batch.datagram(batch.count), ArgumentError);
      assert.throws(() => batch.endpoint(-1), ArgumentError);
    });
    sender.send(text('x'), { address: '127.0.0.1', port: receiver.port });
    await until(() => kept !== undefined, 'a batch');
    assert.equal(kept!.count, 0);
    assert.throws(() => kept!.datagram(0), /used after the callback/);
  });
});

describe('NativeUdpSocket: stopping and closing', () => {
  it('close() stops callbacks, also from inside the handler mid-batch, and frees the port', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    for (let i = 0; i < 10; i++) sender.send(text(`c${i}`), to);
    const seen: string[] = [];
    receiver.onDatagram((data) => {
      seen.push(decode(data));
      if (seen.length === 3) receiver.close();
    });
    await until(() => seen.length >= 3, 'three datagrams');
    for (let i = 0; i < 5; i++) assert.equal(sender.send(text('late'), to), true);
    await sleep(50);
    assert.deepEqual(seen, ['c0', 'c1', 'c2'], 'nothing after close, not even the rest of the batch');
    assert.equal(receiver.closed, true);
    assert.throws(() => receiver.send(text('x'), to), isUdpError('EBADF'));
    assert.throws(() => receiver.onDatagrams(() => undefined), isUdpError('EBADF'));
    assert.throws(
      () =>
        receiver.sendBatch(
          new Uint8Array(1),
          new Uint32Array(1),
          new Uint32Array(1),
          new Uint8Array(16),
          new Uint16Array(1),
          1,
        ),
      isUdpError('EBADF'),
    );
    receiver.close();
    receiver.stopReading();
    assert.equal(receiver.counters().datagramsReceived, 10, 'counters keep their last values');
    bind(to.port).close();
  });

  it('close() from outside stops callbacks', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    let calls = 0;
    receiver.onDatagrams(() => calls++);
    sender.send(text('before'), to);
    await until(() => calls === 1, 'the first batch');
    receiver.close();
    sender.send(text('after'), to);
    await sleep(50);
    assert.equal(calls, 1);
  });

  it('stopReading() (also inside the handler) pauses; later datagrams wait in the kernel for the next handler', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    const first: string[] = [];
    receiver.onDatagram((data) => {
      first.push(decode(data));
      receiver.stopReading();
    });
    sender.send(text('s0'), to);
    await until(() => first.length >= 1, 'the first datagram');
    for (let i = 1; i < 4; i++) sender.send(text(`s${i}`), to);
    await sleep(30);
    assert.deepEqual(first, ['s0']);
    const rest = collect(receiver);
    await until(() => rest.length === 3, 'the rest');
    assert.deepEqual(
      rest.map((g) => g.text),
      ['s1', 's2', 's3'],
    );
    assert.deepEqual(first, ['s0']);
  });

  it('stopReading() inside a per-datagram handler also ends the batch it is in', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    for (let i = 0; i < 4; i++) sender.send(text(`b${i}`), to);
    await sleep(20);
    const seen: string[] = [];
    receiver.onDatagram((data) => {
      seen.push(decode(data));
      receiver.stopReading();
    });
    await until(() => seen.length >= 1, 'the first datagram');
    await sleep(30);
    // The other three were in the same batch: already read, and dropped, as a stop promises no further call.
    assert.deepEqual(seen, ['b0']);
    assert.equal(receiver.counters().datagramsReceived, 4);
  });

  it('a handler that throws is an uncaught exception, and reading goes on', async (t) => {
    if (!addon(t)) return;
    const receiver = bind();
    const sender = bind();
    const to = { address: '127.0.0.1', port: receiver.port };
    const uncaught: unknown[] = [];
    const listener = (err: unknown): void => {
      uncaught.push(err);
    };
    const previous = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', listener);
    try {
      let calls = 0;
      receiver.onDatagrams(() => {
        calls++;
        if (calls === 1) throw new Error('handler failed');
      });
      sender.send(text('1'), to);
      await until(() => uncaught.length === 1, 'the uncaught exception');
      sender.send(text('2'), to);
      await until(() => calls === 2, 'the next batch');
      assert.match(String(uncaught[0]), /handler failed/);
    } finally {
      process.removeListener('uncaughtException', listener);
      for (const l of previous) process.on('uncaughtException', l);
    }
  });
});
