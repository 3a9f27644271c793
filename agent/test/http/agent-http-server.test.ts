import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { controlRequest } from '../../src/daemon/control-client.js';
import { ControlServer } from '../../src/daemon/control-server.js';
import { AgentHttpServer, type HealthCheck } from '../../src/http/agent-http-server.js';
import {
  createMeshMetrics,
  MESH_METRIC_NAMES,
  registerMeshMetrics,
  type MeshMetricsSource,
} from '../../src/metrics/mesh-metrics.js';
import type { MemberState } from '../../src/swim/member.js';
import { ORG_OUTCOMES } from '../../src/swim/org-control.js';
import { SEND_PURPOSES, type SendPurpose, type Tally } from '../../src/swim/outbox.js';
import { RECEIVED_MESSAGE_TYPES, zeroCounters, zeroTally } from '../../src/swim/swim-stats.js';
import { MESSAGE_INITIATION } from '../../src/wireguard/constants.js';
import { connect, FakeNetwork, ipv4Packet, type Node } from '../wireguard/fake-network.js';

// ---------------------------------------------------------------- a node to observe

/** Two real devices that handshook, one of which then refused a handshake with a bad MAC1. */
function dataPlane(): Node {
  const net = new FakeNetwork();
  const a = net.addNode('a', '192.0.2.1');
  const b = net.addNode('b', '192.0.2.2');
  connect(a, '10.0.0.1', b, '10.0.0.2');
  a.device.handleTunPacket(ipv4Packet('10.0.0.1', '10.0.0.2'));
  net.pump();
  const bad = new Uint8Array(148);
  bad[0] = MESSAGE_INITIATION;
  b.device.handleDatagram(bad, a.endpoint);
  return b;
}

interface FakeNode {
  source: MeshMetricsSource;
  members: number;
}

function fakeNode(options: { gossipOnly?: boolean } = {}): FakeNode {
  const device = options.gossipOnly === true ? null : dataPlane().device;
  const sent = Object.fromEntries(SEND_PURPOSES.map((p) => [p, { packets: 3, bytes: 300 }])) as Record<
    SendPurpose,
    Tally
  >;
  const org = zeroTally(ORG_OUTCOMES);
  org.revocation = 2;
  org['bad-signature'] = 5;
  const node: FakeNode = {
    members: 2,
    source: {
      memberStates: (): Partial<Record<MemberState, number>> => ({ alive: node.members, dead: 1 }),
      peerPaths: () => ({ direct: node.members - 1, punched: 0, relay: 1, connecting: 0 }),
      natType: () => 'symmetric',
      punch: () => ({ started: 4, succeeded: 3, failed: 1, dropped: { 'duplicate token': 2 } }),
      relay: () => ({
        framesForwarded: 10,
        bytesForwarded: 1400,
        framesDelivered: 7,
        dropped: { 'rate limited': 1, 'sender not at its known address': 2 },
        activePairs: 1,
      }),
      wireguard: () => device,
      swim: () => ({
        counters: { ...zeroCounters(), receivedBytes: 1000, sentBytes: 2000, refused: 6 },
        sent,
        received: { ...zeroTally(RECEIVED_MESSAGE_TYPES), ping: 9, org: 7 },
        org,
      }),
      udp: () => ({
        socket: {
          datagramsReceived: 100,
          bytesReceived: 10_000,
          datagramsSent: 90,
          bytesSent: 9_000,
          sendDrops: 1,
          sendErrors: 2,
          receiveTruncated: 0,
          receiveErrors: 0,
          receiveBatches: 50,
          lastSendError: null,
        },
        dropped: { invalid: 3, 'app-message': 0, 'gossip-only': 0 },
      }),
      tun: () =>
        options.gossipOnly === true
          ? null
          : { packetsRead: 5, bytesRead: 500, packetsWritten: 6, bytesWritten: 600, writeDrops: 0 },
    },
  };
  return node;
}

// ---------------------------------------------------------------- the exposition format

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

function parse(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample !== null, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

function value(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  return e.samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

const meshSamples = (e: Exposition): Sample[] => e.samples.filter((s) => s.name.startsWith('meshguard_'));

// ---------------------------------------------------------------- the server

async function get(server: AgentHttpServer, path: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

async function withServer(
  options: Partial<Parameters<typeof AgentHttpServer.start>[0]>,
  body: (server: AgentHttpServer) => Promise<void>,
): Promise<void> {
  const server = await AgentHttpServer.start({ host: '127.0.0.1', port: 0, registry: new Registry(), ...options });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe('mesh metrics', () => {
  it('exports every family with its type, the existing series among them, and process metrics', async () => {
    const node = fakeNode();
    const registry = createMeshMetrics(node.source);
    const e = parse(await registry.metrics());
    for (const name of MESH_METRIC_NAMES) {
      assert.equal(e.types.get(name), name.endsWith('_total') ? 'counter' : 'gauge', name);
    }
    // Names and series other tests and dashboards rely on.
    assert.equal(value(e, 'meshguard_peers', { path: 'relay' }), 1);
    assert.equal(value(e, 'meshguard_nat_type', { type: 'symmetric' }), 1);
    assert.equal(value(e, 'meshguard_nat_type', { type: 'cone' }), 0);
    assert.equal(value(e, 'meshguard_relay_frames_total', { result: 'forwarded' }), 10);
    assert.equal(value(e, 'meshguard_relay_frames_total', { result: 'dropped' }), 3);
    assert.equal(value(e, 'meshguard_members', { state: 'alive' }), 2);
    assert.equal(value(e, 'meshguard_members', { state: 'suspect' }), 0);
    // The data plane's own counters, read at scrape time.
    assert.equal(value(e, 'meshguard_wireguard_peers', { state: 'established' }), 1);
    assert.equal(value(e, 'meshguard_wireguard_peers', { state: 'stale' }), 0);
    assert.equal(value(e, 'meshguard_wireguard_handshakes_total'), 1);
    assert.equal(value(e, 'meshguard_wireguard_handshake_failures_total', { reason: 'bad-mac1' }), 1);
    assert.equal(value(e, 'meshguard_wireguard_handshake_failures_total', { reason: 'unknown-key' }), 0);
    assert.equal(value(e, 'meshguard_wireguard_drops_total', { reason: 'replay' }), 0);
    assert.ok(value(e, 'meshguard_wireguard_bytes_total', { direction: 'rx' })! > 0);
    assert.equal(value(e, 'meshguard_relay_drops_total', { reason: 'sender-not-at-its-known-address' }), 2);
    assert.equal(value(e, 'meshguard_relay_drops_total', { reason: 'relay-at-capacity' }), 0);
    assert.equal(value(e, 'meshguard_holepunch_drops_total', { reason: 'duplicate-token' }), 2);
    assert.equal(value(e, 'meshguard_swim_messages_sent_total', { purpose: 'probe' }), 3);
    assert.equal(value(e, 'meshguard_swim_messages_received_total', { type: 'ping' }), 9);
    assert.equal(value(e, 'meshguard_swim_drops_total', { reason: 'untrusted' }), 6);
    assert.equal(value(e, 'meshguard_org_messages_total', { outcome: 'bad-signature' }), 5);
    assert.equal(value(e, 'meshguard_revocations_applied_total'), 2);
    assert.equal(value(e, 'meshguard_udp_drops_total', { reason: 'invalid' }), 3);
    assert.equal(value(e, 'meshguard_udp_drops_total', { reason: 'send-refused' }), 2);
    assert.equal(value(e, 'meshguard_tun_packets_total', { direction: 'written' }), 6);
    assert.equal(e.types.get('process_cpu_user_seconds_total'), 'counter');
    assert.equal(e.types.get('nodejs_eventloop_lag_seconds'), 'gauge');
  });

  it('labels only from fixed sets: the same series for a mesh of 2 or of 10 000', async () => {
    const node = fakeNode();
    const registry = createMeshMetrics(node.source);
    const series = (e: Exposition): string[] =>
      meshSamples(e).map((s) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`);
    const small = parse(await registry.metrics());
    node.members = 10_000;
    const large = parse(await registry.metrics());
    assert.equal(value(large, 'meshguard_members', { state: 'alive' }), 10_000);
    assert.deepEqual(series(large), series(small));
    const labelNames = new Set(['state', 'path', 'type', 'outcome', 'result', 'reason', 'direction', 'purpose']);
    for (const s of meshSamples(large)) {
      for (const [label, v] of Object.entries(s.labels)) {
        assert.ok(labelNames.has(label), `${s.name}: label ${label}`);
        assert.match(v, /^[a-z0-9][a-z0-9-]*$/, `${s.name}{${label}="${v}"}`);
      }
    }
    assert.ok(series(large).length < 250, `${series(large).length} series`);
  });

  it('a gossip-only node has no WireGuard or TUN series; a node still to come has none at all', async () => {
    const e = parse(await createMeshMetrics(fakeNode({ gossipOnly: true }).source).metrics());
    assert.equal(e.types.get('meshguard_wireguard_peers'), 'gauge');
    // prom-client always prints an unlabelled series (as 0); the labelled ones are absent.
    const present = (prefix: string): Sample[] =>
      e.samples.filter((s) => s.name.startsWith(prefix) && (Object.keys(s.labels).length > 0 || s.value !== 0));
    assert.deepEqual(present('meshguard_wireguard_'), []);
    assert.deepEqual(present('meshguard_tun_'), []);
    assert.equal(value(e, 'meshguard_members', { state: 'alive' }), 2);

    let current: MeshMetricsSource | null = null;
    const registry = new Registry();
    registerMeshMetrics(registry, () => current);
    const before = parse(await registry.metrics());
    assert.equal(meshSamples(before).filter((s) => Object.keys(s.labels).length > 0).length, 0);
    current = fakeNode().source;
    const started = parse(await registry.metrics());
    assert.equal(value(started, 'meshguard_wireguard_handshakes_total'), 1);
  });
});

describe('AgentHttpServer', () => {
  it('serves /metrics in the Prometheus text format on the address it was given', async () => {
    const registry = createMeshMetrics(fakeNode().source);
    await withServer({ registry }, async (server) => {
      assert.equal(server.host, '127.0.0.1');
      assert.ok(server.port > 0);
      const r = await get(server, '/metrics');
      assert.equal(r.status, 200);
      assert.equal(r.type, registry.contentType);
      const e = parse(r.body);
      assert.equal(e.types.get('meshguard_wireguard_handshake_failures_total'), 'counter');
      assert.equal(value(e, 'meshguard_peers', { path: 'relay' }), 1);
      assert.equal((await get(server, '/nope')).status, 404);
    });
  });

  it('/healthz and /livez: 200 ok, or 503 naming the failed check and why', async () => {
    let stopping = false;
    const running: HealthCheck = { name: 'running', check: () => (stopping ? 'stopping' : undefined) };
    await withServer({ liveness: [running] }, async (server) => {
      assert.deepEqual(await get(server, '/healthz'), { status: 200, type: 'text/plain; charset=utf-8', body: 'ok\n' });
      const verbose = await get(server, '/healthz?verbose');
      assert.equal(verbose.status, 200);
      assert.equal(verbose.body, '[+]event-loop ok\n[+]running ok\ncheck passed\n');
      stopping = true;
      for (const path of ['/healthz', '/livez']) {
        const r = await get(server, path);
        assert.equal(r.status, 503);
        assert.equal(r.body, '[-]running failed: stopping\ncheck failed\n');
      }
    });
  });

  it('/readyz follows the caller’s predicates, and a check that throws counts as failed', async () => {
    let certificate: string | undefined = 'waiting for a certificate';
    const checks: HealthCheck[] = [
      { name: 'udp', check: () => undefined },
      { name: 'certificate', check: () => certificate },
    ];
    await withServer({ readiness: checks }, async (server) => {
      let r = await get(server, '/readyz');
      assert.equal(r.status, 503);
      assert.equal(r.body, '[-]certificate failed: waiting for a certificate\ncheck failed\n');
      assert.equal((await get(server, '/healthz')).status, 200, 'not ready is still alive');
      certificate = undefined;
      r = await get(server, '/readyz');
      assert.deepEqual([r.status, r.body], [200, 'ok\n']);
      r = await get(server, '/readyz?verbose');
      assert.deepEqual([r.status, r.body], [200, '[+]udp ok\n[+]certificate ok\ncheck passed\n']);
      checks.push({
        name: 'trust',
        check: () => {
          throw new Error('trust cache unreadable');
        },
      });
      // The server was given the array itself, so the caller may add conditions as it goes.
      r = await get(server, '/readyz');
      assert.deepEqual([r.status, r.body], [503, '[-]trust failed: trust cache unreadable\ncheck failed\n']);
    });
  });

  it('/v1/status: the same JSON as the control socket’s STATUS, from the same provider', async () => {
    const root = mkdtempSync(join(tmpdir(), 'meshguard-http-'));
    process.env['MESHGUARD_CONTROL_SOCKET'] = join(root, 'ctl.sock');
    let calls = 0;
    const status = (): unknown => ({
      running: true,
      pubkey: 'ab'.repeat(32),
      peers: { alive: 2, suspected: 0, dead: 0 },
      members: [{ meshIPv4: '10.99.1.2', lastHandshake: null, rttMs: 1.5 }],
      calls: ++calls,
    });
    const control = await ControlServer.listen(join(root, 'cfg'), { status, peers: () => [], stop: () => undefined });
    try {
      await withServer({ status }, async (server) => {
        const r = await get(server, '/v1/status');
        assert.equal(r.status, 200);
        assert.equal(r.type, 'application/json; charset=utf-8');
        const overHttp = JSON.parse(r.body) as Record<string, unknown>;
        const overSocket = (await controlRequest(join(root, 'cfg'), 'STATUS')) as Record<string, unknown>;
        assert.deepEqual({ ...overHttp, calls: 0 }, { ...overSocket, calls: 0 });
        assert.deepEqual([overHttp['calls'], overSocket['calls']], [1, 2], 'asked afresh each time');
      });
    } finally {
      control.close();
      rmSync(root, { recursive: true, force: true });
    }
    await withServer({}, async (server) => {
      assert.equal((await get(server, '/v1/status')).status, 404, 'no provider, no status');
    });
    await withServer(
      {
        status: () => {
          throw new Error('not started');
        },
      },
      async (server) => {
        const r = await get(server, '/v1/status');
        assert.deepEqual([r.status, JSON.parse(r.body) as unknown], [500, { error: 'not started' }]);
      },
    );
  });

  it('/healthz fails while the event loop is far behind, and recovers', async () => {
    await withServer({ maxEventLoopDelayMs: 300 }, async (server) => {
      assert.equal((await get(server, '/healthz')).status, 200);
      const until = performance.now() + 1500;
      while (performance.now() < until) {
        // A handler that never yields: every timer of the process is late.
      }
      const r = await get(server, '/healthz');
      assert.equal(r.status, 503);
      assert.match(r.body, /^\[-\]event-loop failed: event loop \d+ ms behind \(limit 300 ms\)\n/);
      const deadline = Date.now() + 10_000;
      while ((await get(server, '/healthz')).status !== 200) {
        assert.ok(Date.now() < deadline, 'healthy again once the loop keeps time');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  });

  it('binds only where it is told, fails loudly when it cannot, and closes idempotently', async () => {
    const server = await AgentHttpServer.start({ host: '127.0.0.1', port: 0, registry: new Registry() });
    await assert.rejects(
      AgentHttpServer.start({ host: '127.0.0.1', port: server.port, registry: new Registry() }),
      /EADDRINUSE/,
    );
    await Promise.all([server.close(), server.close()]);
    await assert.rejects(fetch(`${server.url}/healthz`));
  });
});

after(() => {
  delete process.env['MESHGUARD_CONTROL_SOCKET'];
});
