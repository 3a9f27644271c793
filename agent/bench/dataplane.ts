/**
 * `npm run bench:dataplane` (root): meshguard↔meshguard and wireguard-go↔wireguard-go, each
 * pair in its own two network namespaces joined by a veth, measured in the same run with
 * iperf3 (TCP, 10 s, 1 and 4 streams) and ping; plus the bare veth as the ceiling. Prints a
 * table with meshguard / wireguard-go ratios.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  allAvailable,
  generateWgKeyPair,
  iperf3Available,
  netnsAvailable,
  pingAvailable,
  rootAvailable,
  startWireGuardGo,
  Topology,
  uniqueIfname,
  wireguardGoAvailable,
  type Namespace,
} from '../test/support/netns.js';
import { iperf, ping } from './measure.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Result {
  single: number;
  quad: number;
  rttMs: number;
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function measure(t: Topology, a: Namespace, b: Namespace, address: string): Result {
  ping(t, a, address); // warm up: handshake, ARP/ND
  return {
    single: iperf(t, a, b, address, 1, SECONDS),
    quad: iperf(t, a, b, address, 4, SECONDS),
    rttMs: ping(t, a, address),
  };
}

function pair(label: string): { t: Topology; a: Namespace; b: Namespace } {
  const t = new Topology();
  const a = t.namespace(`${label}a`);
  const b = t.namespace(`${label}b`);
  t.veth(a, b, { ipv4: ['192.168.200.1/24', '192.168.200.2/24'] });
  return { t, a, b };
}

async function benchWireGuardGo(): Promise<Result> {
  const { t, a, b } = pair('bwg');
  try {
    const ka = generateWgKeyPair();
    const kb = generateWgKeyPair();
    await startWireGuardGo(t, a, {
      privateKey: ka.privateKey,
      listenPort: 51820,
      addresses: ['10.77.0.1/24'],
      peers: [{ publicKey: kb.publicKey, allowedIps: ['10.77.0.2/32'], endpoint: '192.168.200.2:51820' }],
    });
    await startWireGuardGo(t, b, {
      privateKey: kb.privateKey,
      listenPort: 51820,
      addresses: ['10.77.0.2/24'],
      peers: [{ publicKey: ka.publicKey, allowedIps: ['10.77.0.1/32'], endpoint: '192.168.200.1:51820' }],
    });
    return measure(t, a, b, '10.77.0.2');
  } finally {
    await t.destroy();
  }
}

async function benchMeshguard(): Promise<Result> {
  const { t, a, b } = pair('bmg');
  try {
    const ka = generateWgKeyPair();
    const kb = generateWgKeyPair();
    const dir = t.tempDir();
    const ifa = uniqueIfname('mga');
    const ifb = uniqueIfname('mgb');
    const conf = (
      name: string,
      key: string,
      address: string,
      peer: string,
      allowed: string,
      endpoint: string,
    ): string => {
      const path = join(dir, `${name}.conf`);
      writeFileSync(
        path,
        `[Interface]\nPrivateKey = ${key}\nListenPort = 51820\nAddress = ${address}\n\n[Peer]\nPublicKey = ${peer}\nAllowedIPs = ${allowed}\nEndpoint = ${endpoint}\n`,
      );
      return path;
    };
    for (const [ns, name, key, address, peer, allowed, endpoint] of [
      [a, ifa, ka.privateKey, '10.77.0.1/24', kb.publicKey, '10.77.0.2/32', '192.168.200.2:51820'],
      [b, ifb, kb.privateKey, '10.77.0.2/24', ka.publicKey, '10.77.0.1/32', '192.168.200.1:51820'],
    ] as const) {
      const path = conf(name, key, address, peer, allowed, endpoint);
      t.spawn(ns, [process.execPath, MAIN, 'wg', 'up', '--foreground', '--config', path]);
      await waitFor(() => t.tryExec(ns, ['ip', 'link', 'show', name]).status === 0, 10_000, `${name} to come up`);
    }
    return measure(t, a, b, '10.77.0.2');
  } finally {
    await t.destroy();
  }
}

async function benchVeth(): Promise<Result> {
  const { t, a, b } = pair('bve');
  try {
    return measure(t, a, b, '192.168.200.2');
  } finally {
    await t.destroy();
  }
}

const available = allAvailable(
  rootAvailable(),
  netnsAvailable(),
  wireguardGoAvailable(),
  iperf3Available(),
  pingAvailable(),
);
if (!available.available) {
  process.stderr.write(`bench:dataplane cannot run: ${available.reason}\n`);
  process.exit(2);
}
process.stdout.write(
  `measuring (${SECONDS} s per iperf3 run; this takes about ${Math.ceil((SECONDS * 6 + 30) / 10) * 10} s)…\n`,
);
const veth = await benchVeth();
const wgGo = await benchWireGuardGo();
const mg = await benchMeshguard();

const gbit = (x: number): string => `${x.toFixed(2)} Gbit/s`;
const rows: Array<[string, string, string, string, string]> = [
  ['metric', 'bare veth', 'wireguard-go', 'meshguard', 'meshguard / wireguard-go'],
  ['TCP, 1 stream', gbit(veth.single), gbit(wgGo.single), gbit(mg.single), `${(mg.single / wgGo.single).toFixed(2)}×`],
  ['TCP, 4 streams', gbit(veth.quad), gbit(wgGo.quad), gbit(mg.quad), `${(mg.quad / wgGo.quad).toFixed(2)}×`],
  [
    'ping RTT (avg)',
    `${veth.rttMs.toFixed(3)} ms`,
    `${wgGo.rttMs.toFixed(3)} ms`,
    `${mg.rttMs.toFixed(3)} ms`,
    `${(mg.rttMs / wgGo.rttMs).toFixed(2)}×`,
  ],
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
