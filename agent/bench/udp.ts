/**
 * `npm run bench:udp`: datagrams/s of 1420-byte datagrams (a full WireGuard packet at the
 * default MTU) from a sender process to a receiver process, for
 *   - node:dgram (UdpSocket, the portable baseline the runtime used before the native socket) at both ends,
 *   - NativeUdpSocket: sendBatch (sendmmsg) → onDatagrams (recvmmsg), one call per 64,
 *   - the two mixed, so the send and the receive side can be told apart,
 *   - NativeUdpSocket's drop-in path: send() per datagram → onDatagram (a copy per datagram),
 * one way and both ways at once (each process sending and receiving, as a tunnel carrying a
 * TCP stream does). Senders flood; the receive rate is what the receiver kept up with, and
 * CPU µs/datagram (user + system, from process.cpuUsage) is what each side paid per datagram.
 * Last, both ways paced at BENCH_RATE datagrams/s each (default 90000, above the ~83k/s a
 * 0.93 Gbit/s TCP stream needs): whether each keeps up, and at what share of a core ("CPU a/b").
 * It also times the source address text of a received datagram, formatted vs cached.
 *
 * BENCH_SECONDS (default 2) per row; BENCH_NET=veth (root) runs the two processes in two network
 * namespaces joined by a veth pair instead of over loopback in this one; BENCH_BATCHES_PER_WAKE
 * sets the native receivers' maxBatchesPerWake (default 8).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { formatAddress, EndpointNameCache } from '../src/net/udp-address.js';
import { NativeUdpSocket } from '../src/net/native-udp-socket.js';
import { UdpSocket } from '../src/net/udp-socket.js';
import type { UdpEndpoint } from '../src/wireguard/endpoint.js';
import { netnsAvailable, Topology, type Namespace } from '../test/support/netns.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 2);
const WARMUP_MS = 300;
const SIZE = 1420;
const BATCH = 64;
const SELF = fileURLToPath(import.meta.url);
const RATE = Number(process.env['BENCH_RATE'] ?? 90_000);

type SendImpl = 'native-batch' | 'native-single' | 'dgram';
type ReceiveImpl = 'native-batch' | 'native-compat' | 'dgram';

interface ChildSpec {
  readonly send: SendImpl | null;
  readonly receive: ReceiveImpl | null;
  /** Datagrams/s to send, paced by a 1 ms timer; null floods. */
  readonly rate: number | null;
}

interface Report {
  readonly attempted: number;
  readonly sent: number;
  readonly received: number;
  readonly seconds: number;
  readonly cpuMicros: number;
}

type ToChild = { type: 'go'; target: UdpEndpoint | null } | { type: 'mark' } | { type: 'report' } | { type: 'exit' };
type FromChild = { type: 'ready'; port: number } | ({ type: 'report' } & Report);

// ---- child: one end of a run, driven by the parent over the IPC channel ----

function isNative(impl: SendImpl | ReceiveImpl | null): boolean {
  return impl === 'native-batch' || impl === 'native-single' || impl === 'native-compat';
}

async function child(spec: ChildSpec): Promise<void> {
  const native = isNative(spec.send ?? spec.receive);
  // The wildcard, dual-stack, as the runtime binds: IPv4 peers then take the mapped path.
  const wake = process.env['BENCH_BATCHES_PER_WAKE'];
  const options = wake === undefined ? {} : { maxBatchesPerWake: Number(wake) };
  const nativeSocket = native ? NativeUdpSocket.bindSync(0, undefined, options) : null;
  const dgramSocket = native ? null : await UdpSocket.bind(0);
  const port = nativeSocket?.port ?? dgramSocket!.port;

  let received = 0;
  let sink = 0;
  if (spec.receive === 'native-batch') {
    nativeSocket!.onDatagrams((batch) => {
      // What a data plane does per datagram at least: look at it and know where it came from.
      for (let i = 0; i < batch.count; i++) sink ^= batch.buffer[batch.offsets[i]!]! ^ batch.endpoint(i).port;
      received += batch.count;
    });
  } else if (spec.receive === 'native-compat') {
    nativeSocket!.onDatagram((data, from) => {
      sink ^= data[0]! ^ from.port;
      received++;
    });
  } else if (spec.receive === 'dgram') {
    dgramSocket!.onDatagram((data, from) => {
      sink ^= data[0]! ^ from.port;
      received++;
    });
  }

  let attempted = 0;
  let sent = 0;
  let sending = false;
  const payload = new Uint8Array(BATCH * SIZE).fill(0x5a);
  const startSending = (to: UdpEndpoint): void => {
    sending = true;
    const views = Array.from({ length: BATCH }, (_, i) => payload.subarray(i * SIZE, (i + 1) * SIZE));
    const batch = nativeSocket?.createSendBatch(BATCH);
    for (let i = 0; i < BATCH; i++) batch?.add(i * SIZE, SIZE, to);
    const burst = (count: number): void => {
      if (spec.send === 'native-batch') {
        sent += nativeSocket!.sendBatch(payload, batch!.offsets, batch!.lengths, batch!.addresses, batch!.ports, count);
      } else if (spec.send === 'native-single') {
        for (let i = 0; i < count; i++) if (nativeSocket!.send(views[i]!, to)) sent++;
      } else {
        // UdpSocket.send reports failures only by counting them, asynchronously; see 'report'.
        for (let i = 0; i < count; i++) dgramSocket!.send(views[i]!, to);
        sent += count;
      }
      attempted += count;
    };
    const rate = spec.rate;
    if (rate === null) {
      // BATCH datagrams per turn of the event loop, then yield so receiving (and IPC) runs too.
      const flood = (): void => {
        if (!sending) return;
        burst(BATCH);
        setImmediate(flood);
      };
      setImmediate(flood);
    } else {
      // Whatever is due every millisecond, at most BATCH per call, as a tunnel forwards what arrived.
      const start = performance.now();
      const paced = (): void => {
        if (!sending) return;
        let due = Math.floor((rate * (performance.now() - start)) / 1000) - attempted;
        while (due > 0) {
          const count = Math.min(due, BATCH);
          burst(count);
          due -= count;
        }
        setTimeout(paced, 1);
      };
      setTimeout(paced, 1);
    }
  };

  let mark = { attempted: 0, sent: 0, received: 0, time: 0, cpu: process.cpuUsage(), dgramErrors: 0 };
  const send = (message: FromChild): void => {
    process.send?.(message);
  };
  process.on('message', (raw: unknown) => {
    const message = raw as ToChild;
    if (message.type === 'go') {
      if (spec.send !== null && message.target !== null) startSending(message.target);
    } else if (message.type === 'mark') {
      const dgramErrors = dgramSocket?.sendErrors ?? 0;
      mark = { attempted, sent, received, time: performance.now(), cpu: process.cpuUsage(), dgramErrors };
    } else if (message.type === 'report') {
      sending = false;
      const cpu = process.cpuUsage(mark.cpu);
      const dgramFailed = (dgramSocket?.sendErrors ?? 0) - mark.dgramErrors;
      send({
        type: 'report',
        attempted: attempted - mark.attempted,
        sent: sent - mark.sent - dgramFailed,
        received: received - mark.received,
        seconds: (performance.now() - mark.time) / 1000,
        cpuMicros: cpu.user + cpu.system,
      });
    } else {
      nativeSocket?.close();
      dgramSocket?.close();
      process.disconnect();
      if (sink === 0.5) process.stdout.write('unreachable\n'); // keeps `sink` observable
    }
  });
  send({ type: 'ready', port });
}

// ---- parent: starts the ends, times the window, prints the table ----

interface End {
  readonly process: ChildProcess;
  next(): Promise<FromChild>;
}

function startEnd(spec: ChildSpec, ns: Namespace | null): End {
  const argv = [process.execPath, SELF, 'child', JSON.stringify(spec)];
  // `ip netns exec` execs node in place, which keeps the IPC channel's fd (NODE_CHANNEL_FD).
  const command = ns === null ? argv : ['ip', 'netns', 'exec', ns.name, ...argv];
  const proc = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queue: FromChild[] = [];
  const waiters: ((m: FromChild) => void)[] = [];
  proc.on('message', (m: unknown) => {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(m as FromChild);
    else queue.push(m as FromChild);
  });
  return {
    process: proc,
    next: () => {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        waiters.push(resolve);
        proc.once('exit', (code) => {
          reject(new Error(`bench child exited with ${String(code)}`));
        });
      });
    },
  };
}

function tell(end: End, message: ToChild): void {
  end.process.send(message);
}

async function nextReport(end: End): Promise<Report> {
  const m = await end.next();
  if (m.type !== 'report') throw new Error(`expected a report, got ${m.type}`);
  return m;
}

async function nextReady(end: End): Promise<number> {
  const m = await end.next();
  if (m.type !== 'ready') throw new Error(`expected ready, got ${m.type}`);
  return m.port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Net {
  /** Namespace and address of end a (the sender one way) and end b. */
  readonly a: { ns: Namespace | null; address: string };
  readonly b: { ns: Namespace | null; address: string };
}

interface Row {
  readonly label: string;
  /** One entry per direction: what the sender sent and the receiver received. */
  readonly directions: readonly { sender: Report; receiver: Report }[];
}

async function measure(label: string, net: Net, a: ChildSpec, b: ChildSpec): Promise<Row> {
  const endB = startEnd(b, net.b.ns);
  const endA = startEnd(a, net.a.ns);
  try {
    const [portA, portB] = await Promise.all([nextReady(endA), nextReady(endB)]);
    tell(endB, { type: 'go', target: b.send === null ? null : { address: net.a.address, port: portA } });
    tell(endA, { type: 'go', target: a.send === null ? null : { address: net.b.address, port: portB } });
    await sleep(WARMUP_MS);
    tell(endA, { type: 'mark' });
    tell(endB, { type: 'mark' });
    await sleep(SECONDS * 1000);
    tell(endA, { type: 'report' });
    tell(endB, { type: 'report' });
    const [ra, rb] = await Promise.all([nextReport(endA), nextReport(endB)]);
    const directions = [{ sender: ra, receiver: rb }];
    if (b.send !== null) directions.push({ sender: rb, receiver: ra });
    return { label, directions };
  } finally {
    for (const end of [endA, endB]) {
      if (end.process.connected) tell(end, { type: 'exit' });
    }
    await Promise.all(
      [endA, endB].map((end) =>
        end.process.exitCode === null ? new Promise((r) => end.process.once('exit', r)) : Promise.resolve(),
      ),
    );
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Share of one core a process used in the window. */
function cpuPercent(r: Report): string {
  return `${Math.round(r.cpuMicros / (r.seconds * 1e4))}%`;
}

function print(rows: readonly Row[]): void {
  const header = ['', 'sent/s', 'received/s', 'Gbit/s rx', 'loss', 'send µs/dg', 'recv µs/dg', 'CPU a/b'];
  const lines: string[][] = [];
  for (const row of rows) {
    row.directions.forEach(({ sender, receiver }, i) => {
      const sentRate = sender.sent / sender.seconds;
      const receivedRate = receiver.received / receiver.seconds;
      const loss = sender.sent > 0 ? 1 - receivedRate / sentRate : 0;
      // Both ways at once: each process's CPU serves both directions, so it is per datagram handled.
      const both = row.directions.length === 2;
      const senderCpu = sender.cpuMicros / (both ? sender.sent + sender.received : sender.sent);
      const receiverCpu = receiver.cpuMicros / (both ? receiver.sent + receiver.received : receiver.received);
      lines.push([
        i === 0 ? row.label : '  (other direction)',
        fmt(sentRate),
        fmt(receivedRate),
        ((receivedRate * SIZE * 8) / 1e9).toFixed(2),
        `${(Math.max(0, loss) * 100).toFixed(1)}%`,
        senderCpu.toFixed(2),
        receiverCpu.toFixed(2),
        i === 0 ? `${cpuPercent(sender)}/${cpuPercent(receiver)}` : '',
      ]);
    });
  }
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c]!.length)));
  const render = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  process.stdout.write(`${render(header)}\n${lines.map(render).join('\n')}\n`);
}

/** ns per source-address text lookup: formatting each time vs EndpointNameCache. */
function addressTextBench(): void {
  const n = 64;
  const addresses = new Uint8Array(n * 16);
  const ports = new Uint16Array(n).fill(51820);
  const words = new Uint32Array(addresses.buffer);
  const fill = (v6: boolean): void => {
    for (let i = 0; i < n; i++) {
      const at = i * 16;
      addresses.fill(0, at, at + 16);
      if (v6) {
        addresses.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 + (i % 4)], at);
      } else {
        addresses.set([0xff, 0xff, 192, 0, 2, 1 + (i % 4)], at + 10);
      }
    }
  };
  const time = (label: string, step: () => number): void => {
    let sink = 0;
    for (let i = 0; i < 20_000; i++) sink += step();
    const rounds = 200_000;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) sink += step();
    const ns = ((performance.now() - start) * 1e6) / rounds / n;
    process.stdout.write(`  ${label.padEnd(40)} ${ns.toFixed(1).padStart(6)} ns/datagram${sink < 0 ? '!' : ''}\n`);
  };
  process.stdout.write('source address text + endpoint object, 64 datagrams from 4 peers:\n');
  for (const v6 of [false, true]) {
    fill(v6);
    const cache = new EndpointNameCache();
    const family = v6 ? 'IPv6' : 'IPv4';
    // Comparing with a known peer's address is what the data plane does with it (sameEndpoint),
    // and it makes V8 flatten a concatenated string, which merely taking its length would not.
    const known = v6 ? '2001:db8::1' : '192.0.2.1';
    time(`${family} formatted per datagram`, () => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const from: UdpEndpoint = { address: formatAddress(addresses, i * 16), port: ports[i]! };
        if (from.address === known) s += from.port;
      }
      return s;
    });
    time(`${family} EndpointNameCache`, () => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const from = cache.lookup(addresses, words, ports, i);
        if (from.address === known) s += from.port;
      }
      return s;
    });
  }
}

async function main(): Promise<void> {
  const mode = process.env['BENCH_NET'] ?? 'loopback';
  let topology: Topology | null = null;
  let net: Net = { a: { ns: null, address: '127.0.0.1' }, b: { ns: null, address: '127.0.0.1' } };
  if (mode === 'veth') {
    const cap = netnsAvailable();
    if (!cap.available) throw new Error(`BENCH_NET=veth: ${cap.reason}`);
    topology = new Topology();
    const nsA = topology.namespace('udpa');
    const nsB = topology.namespace('udpb');
    topology.veth(nsA, nsB, { ipv4: ['10.213.0.1/24', '10.213.0.2/24'] });
    net = { a: { ns: nsA, address: '10.213.0.1' }, b: { ns: nsB, address: '10.213.0.2' } };
  } else if (mode !== 'loopback') {
    throw new Error(`BENCH_NET must be loopback or veth, not ${mode}`);
  }
  try {
    addressTextBench();
    const spec = (send: SendImpl | null, receive: ReceiveImpl | null, rate: number | null = null): ChildSpec => ({
      send,
      receive,
      rate,
    });
    process.stdout.write(
      `\n${SIZE}-byte datagrams over ${mode}, ${SECONDS} s per row, senders flooding ${BATCH} per event-loop turn:\n`,
    );
    const rows: Row[] = [];
    const oneWay: [string, SendImpl, ReceiveImpl][] = [
      ['node:dgram → node:dgram', 'dgram', 'dgram'],
      ['native sendBatch → native onDatagrams', 'native-batch', 'native-batch'],
      ['native sendBatch → node:dgram', 'native-batch', 'dgram'],
      ['node:dgram → native onDatagrams', 'dgram', 'native-batch'],
      ['native send → native onDatagram (copy)', 'native-single', 'native-compat'],
    ];
    for (const [label, send, receive] of oneWay) {
      rows.push(await measure(label, net, spec(send, null), spec(null, receive)));
    }
    rows.push(await measure('both ways: node:dgram', net, spec('dgram', 'dgram'), spec('dgram', 'dgram')));
    rows.push(
      await measure(
        'both ways: native batch',
        net,
        spec('native-batch', 'native-batch'),
        spec('native-batch', 'native-batch'),
      ),
    );
    // The data-plane goal: ~83k datagrams/s each way (0.93 Gbit/s of TCP through the tunnel).
    for (const impl of ['dgram', 'native-batch'] as const) {
      const paced = spec(impl, impl, RATE);
      rows.push(await measure(`both ways at ${fmt(RATE)}/s: ${impl}`, net, paced, paced));
    }
    print(rows);
  } finally {
    await topology?.destroy();
  }
}

if (process.argv[2] === 'child') {
  await child(JSON.parse(process.argv[3] ?? '{}') as ChildSpec);
} else {
  await main();
}
