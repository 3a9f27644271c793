/**
 * `npm run bench:nat` (root): the NAT lab of the e2e tests (coturn STUN servers, iptables NAT
 * routers in network namespaces, a public node as rendezvous and relay), measured:
 *   - from daemon start, how long until STUN has classified every node, and until each pair
 *     pings over its mesh addresses: two cone-NATed nodes (direct or punched), two
 *     symmetric-NATed nodes (through the relay);
 *   - TCP throughput (iperf3) and RTT over the cone pair's direct path and the symmetric pair's
 *     relayed path, and between the public node and a cone node, for scale.
 * BENCH_SECONDS sets the iperf3 duration (default 10).
 */
import { requireBinary } from '../test/support/capabilities.js';
import { MeshLab, type LabNode } from '../test/support/mesh-lab.js';
import { NatLab } from '../test/support/nat-lab.js';
import { allAvailable, netnsAvailable, pingAvailable, rootAvailable, tunAvailable } from '../test/support/netns.js';
import { iperf, ping } from './measure.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);

interface StatusView {
  readonly nat: { readonly type: string };
  readonly members: ReadonlyArray<{ readonly meshIPv4: string; readonly path: string | null }>;
}

async function until(check: () => boolean, ms: number, what: string): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      if (check()) return Date.now() - started;
    } catch {
      // The daemon may not be answering yet.
    }
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const available = allAvailable(rootAvailable(), netnsAvailable(), tunAvailable(), pingAvailable());
  if (!available.available) throw new Error(`bench:nat needs ${available.reason}`);
  for (const binary of ['iptables', 'turnserver', 'iperf3']) requireBinary(binary);
  const lab = new MeshLab(225);
  try {
    const nat = new NatLab(lab);
    nat.startStunServers();
    const relay = lab.addNode();
    const coneA = lab.addNode({ site: nat.site('cone') });
    const coneB = lab.addNode({ site: nat.site('cone') });
    const symC = lab.addNode({ site: nat.site('symmetric') });
    const symD = lab.addNode({ site: nat.site('symmetric') });
    const stun = nat.stunServers.flatMap((s) => ['--stun', s]);
    const status = (n: LabNode): StatusView => JSON.parse(lab.control(n, ['status', '--json'])) as StatusView;
    const pathOf = (n: LabNode, to: LabNode): string =>
      status(n).members.find((m) => m.meshIPv4 === to.meshIPv4)?.path ?? '?';

    const started = Date.now();
    lab.start(relay, [], stun);
    for (const n of [coneA, coneB, symC, symD]) lab.start(n, [relay], stun);
    const since = (): string => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    const rows: Array<[string, string]> = [];
    await until(() => [relay, coneA, coneB, symC, symD].every((n) => status(n).nat.type !== 'unknown'), 30_000, 'STUN');
    rows.push(['every node classified (public, cone ×2, symmetric ×2)', since()]);
    await until(() => lab.canPing(coneA, coneB) && lab.canPing(coneB, coneA), 60_000, 'cone pair');
    rows.push([`cone ↔ cone pings (path ${pathOf(coneA, coneB)})`, since()]);
    await until(() => lab.canPing(symC, symD) && lab.canPing(symD, symC), 90_000, 'symmetric pair');
    rows.push([`symmetric ↔ symmetric pings (path ${pathOf(symC, symD)})`, since()]);

    const t = lab.topology;
    const measure = (label: string, a: LabNode, b: LabNode): void => {
      const rtt = ping(t, a.ns, b.meshIPv4);
      const gbps = iperf(t, a.ns, b.ns, b.meshIPv4, 1, SECONDS);
      rows.push([`${label}: TCP, 1 stream / RTT`, `${(gbps * 1000).toFixed(0)} Mbit/s / ${rtt.toFixed(2)} ms`]);
    };
    measure(`public → cone (${pathOf(relay, coneA)})`, relay, coneA);
    measure(`cone → cone (${pathOf(coneA, coneB)})`, coneA, coneB);
    measure(`symmetric → symmetric (${pathOf(symC, symD)})`, symC, symD);

    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`NAT lab: coturn STUN ×2, iptables MASQUERADE (cone) and --random-fully (symmetric)\n`);
    for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  } catch (err) {
    for (const n of lab.nodes) {
      process.stderr.write(`--- ${n.name}\n${n.daemon?.output() ?? ''}\n`);
      try {
        process.stderr.write(`${lab.control(n, ['status'])}\n`);
      } catch {
        // not running
      }
    }
    throw err;
  } finally {
    await lab.destroy();
  }
}

await main();
