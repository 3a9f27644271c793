import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { requireCapability } from '@meshguard/core/testing';
import { NativeUdpSocket } from '../../src/net/native-udp-socket.js';
import {
  allAvailable,
  netnsAvailable,
  startFixture,
  Topology,
  tunAddonAvailable,
  type Fixture,
  type Namespace,
} from '../support/netns.js';
import { report, untilStdinEnds } from './fixtures/child-io.js';

/*
 * NativeUdpSocket between two network namespaces joined by a veth pair, over IPv4 and IPv6, with
 * node:dgram as an independent peer. The ends run as fixtures: this file started again as
 * `node native-udp-veth.test.js fixture <role> ...` inside a namespace (see the bottom).
 */

const V4 = ['10.232.0.1', '10.232.0.2'] as const;
const V6 = ['fd32:6d67::1', 'fd32:6d67::2'] as const;
const BURST = 48;

interface Seen {
  readonly text: string;
  readonly address: string;
  readonly port: number;
  readonly family: number;
}

interface EchoReport {
  readonly received: Seen[];
  readonly batches: number;
  readonly counters: { datagramsReceived: number; datagramsSent: number; sendDrops: number; sendErrors: number };
}

interface ClientReport {
  readonly nativePort: number;
  readonly d4Port: number;
  readonly d6Port: number;
  readonly nativeSent: number;
  readonly burstSent: number;
  readonly nativeEchoes: Seen[];
  readonly dgramEchoes: Seen[];
  readonly burstEchoes: number;
  readonly burstBatches: number;
}

const byText = (a: Seen, b: Seen): number => a.text.localeCompare(b.text);

// ---- fixtures ----

/** Echoes every datagram to its source with one sendBatch per received batch; reports what it saw. */
async function echoFixture(): Promise<void> {
  const socket = NativeUdpSocket.bindSync(0);
  const received: Seen[] = [];
  let batches = 0;
  const replies = socket.createSendBatch(64);
  socket.onDatagrams((batch) => {
    batches++;
    replies.clear();
    for (let i = 0; i < batch.count; i++) {
      const text = new TextDecoder().decode(batch.datagram(i));
      if (!text.startsWith('burst')) {
        received.push({ text, address: batch.address(i), port: batch.port(i), family: batch.family(i) });
      }
      replies.addReply(batch.offset(i), batch.length(i), batch, i);
    }
    socket.sendBatch(batch.buffer, replies.offsets, replies.lengths, replies.addresses, replies.ports, replies.count);
  });
  report({ port: socket.port });
  await untilStdinEnds();
  const counters = socket.counters();
  socket.close();
  report({ received, batches, counters });
}

async function boundDgram(type: 'udp4' | 'udp6'): Promise<Socket> {
  const s = createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, resolve));
  return s;
}

/** Sends to the echo over both families from a native and two node:dgram sockets; reports the echoes. */
async function clientFixture(echoPort: number): Promise<void> {
  const native = NativeUdpSocket.bindSync(0);
  const d4 = await boundDgram('udp4');
  const d6 = await boundDgram('udp6');
  const nativeEchoes: Seen[] = [];
  const dgramEchoes: Seen[] = [];
  let burstEchoes = 0;
  let burstBatches = 0;
  native.onDatagrams((batch) => {
    let burst = false;
    for (let i = 0; i < batch.count; i++) {
      const text = new TextDecoder().decode(batch.datagram(i));
      if (text.startsWith('burst')) {
        burstEchoes++;
        burst = true;
      } else {
        nativeEchoes.push({ text, address: batch.address(i), port: batch.port(i), family: batch.family(i) });
      }
    }
    if (burst) burstBatches++;
  });
  for (const d of [d4, d6]) {
    d.on('message', (msg, from) => {
      dgramEchoes.push({ text: msg.toString(), address: from.address, port: from.port, family: 0 });
    });
  }

  // Four datagrams to two destinations of different families, in one call.
  const texts = ['n-v4-0', 'n-v6-1', 'n-v4-2', 'n-v6-3'];
  const buffer = new Uint8Array(64);
  const batch = native.createSendBatch(4);
  texts.forEach((text, i) => {
    buffer.set(new TextEncoder().encode(text), i * 16);
    batch.add(i * 16, text.length, { address: i % 2 === 0 ? V4[1] : V6[1], port: echoPort });
  });
  const nativeSent = native.sendBatch(buffer, batch.offsets, batch.lengths, batch.addresses, batch.ports, batch.count);
  d4.send('d-v4', echoPort, V4[1]);
  d6.send('d-v6', echoPort, V6[1]);
  for (let waited = 0; (nativeEchoes.length < 4 || dgramEchoes.length < 2) && waited < 5000; waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }

  // A burst of full-size datagrams in one sendBatch; the echoes come back in batches.
  const burstBuffer = new Uint8Array(BURST * 1420);
  const burst = native.createSendBatch(BURST);
  const tag = new TextEncoder().encode('burst');
  for (let i = 0; i < BURST; i++) {
    burstBuffer.set(tag, i * 1420);
    burst.add(i * 1420, 1420, { address: V4[1], port: echoPort });
  }
  const burstSent = native.sendBatch(burstBuffer, burst.offsets, burst.lengths, burst.addresses, burst.ports, BURST);
  for (let waited = 0; burstEchoes < BURST && waited < 5000; waited += 10) {
    await new Promise((r) => setTimeout(r, 10));
  }

  report({
    nativePort: native.port,
    d4Port: d4.address().port,
    d6Port: d6.address().port,
    nativeSent,
    burstSent,
    nativeEchoes,
    dgramEchoes,
    burstEchoes,
    burstBatches,
  } satisfies ClientReport);
  await untilStdinEnds();
  native.close();
  d4.close();
  d6.close();
  report({ done: true });
}

// ---- tests ----

function registerTests(): void {
  describe('NativeUdpSocket over a veth pair between network namespaces', () => {
    let topology: Topology | undefined;
    after(() => topology?.destroy());
    const self = new URL(import.meta.url);
    const fixture = (ns: Namespace, args: readonly string[]): Fixture =>
      startFixture(topology!, ns, self, ['fixture', ...args]);

    it('sends and receives over IPv4 and IPv6, reporting sources as node:dgram and the kernel see them', async (t) => {
      const cap = allAvailable(netnsAvailable(), tunAddonAvailable());
      if (!requireCapability(t, cap.available, cap.reason)) return;
      topology = new Topology();
      const a = topology.namespace('udpa');
      const b = topology.namespace('udpb');
      topology.veth(a, b, { ipv4: [`${V4[0]}/24`, `${V4[1]}/24`], ipv6: [`${V6[0]}/64`, `${V6[1]}/64`] });

      const echo = fixture(b, ['echo']);
      const { port: echoPort } = (await echo.next()) as { port: number };
      const client = fixture(a, ['client', String(echoPort)]);
      const c = (await client.next()) as ClientReport;
      await client.finish();
      const e = (await echo.finish()) as EchoReport;

      // The echo saw each sender's real address and port: IPv4 as a dotted quad, never ::ffff:.
      assert.deepEqual(e.received.sort(byText), [
        { text: 'd-v4', address: V4[0], port: c.d4Port, family: 4 },
        { text: 'd-v6', address: V6[0], port: c.d6Port, family: 6 },
        { text: 'n-v4-0', address: V4[0], port: c.nativePort, family: 4 },
        { text: 'n-v4-2', address: V4[0], port: c.nativePort, family: 4 },
        { text: 'n-v6-1', address: V6[0], port: c.nativePort, family: 6 },
        { text: 'n-v6-3', address: V6[0], port: c.nativePort, family: 6 },
      ]);
      // sendBatch to several destinations went out whole; the echoes came from the echo's address.
      assert.equal(c.nativeSent, 4);
      assert.deepEqual(c.nativeEchoes.sort(byText), [
        { text: 'n-v4-0', address: V4[1], port: echoPort, family: 4 },
        { text: 'n-v4-2', address: V4[1], port: echoPort, family: 4 },
        { text: 'n-v6-1', address: V6[1], port: echoPort, family: 6 },
        { text: 'n-v6-3', address: V6[1], port: echoPort, family: 6 },
      ]);
      // node:dgram, an independent implementation, sees the replies from where the echo is bound.
      assert.deepEqual(c.dgramEchoes.sort(byText), [
        { text: 'd-v4', address: V4[1], port: echoPort, family: 0 },
        { text: 'd-v6', address: V6[1], port: echoPort, family: 0 },
      ]);
      // The burst: one sendBatch, received and echoed in batches, none lost on an idle veth.
      assert.equal(c.burstSent, BURST);
      assert.equal(c.burstEchoes, BURST);
      t.diagnostic(`burst of ${BURST}: echo read ${e.batches} batches in all, client ${c.burstBatches} for the burst`);
      assert.ok(c.burstBatches < BURST, 'the echoes were received in batches');
      assert.equal(e.counters.datagramsReceived, BURST + 6);
      assert.equal(e.counters.datagramsSent, BURST + 6);
      assert.equal(e.counters.sendDrops + e.counters.sendErrors, 0);
    });
  });
}

if (process.argv[2] === 'fixture') {
  const [role, port] = process.argv.slice(3);
  if (role === 'echo') await echoFixture();
  else if (role === 'client') await clientFixture(Number(port));
  else throw new Error(`unknown fixture role ${String(role)}`);
} else {
  registerTests();
}
