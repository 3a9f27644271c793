/**
 * `npm run bench:agent` (root): resident memory and idle CPU of a meshguard node with many peers
 * (DESIGN.md §10). N daemons (`meshguard up`, each with a v2 certificate from one org) share a
 * LAN in network namespaces; once every node sees the other N − 1 alive and has a WireGuard
 * session with each, every daemon's RSS and CPU time are sampled over an idle window (SWIM
 * probing, gossip and the 25 s keepalives still run: "idle" means no user traffic).
 *
 * BENCH_NODES (default 24), BENCH_IDLE_SECONDS (default 30), BENCH_NODE_OPTIONS (V8 flags for
 * the daemons, e.g. the chart's agent.nodeOptions; default none).
 */
import { readFileSync } from 'node:fs';
import { MeshLab, type LabNode } from '../test/support/mesh-lab.js';
import { allAvailable, netnsAvailable, rootAvailable, tunAvailable } from '../test/support/netns.js';

const NODES = Number(process.env['BENCH_NODES'] ?? 24);
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 30);
const NODE_OPTIONS = process.env['BENCH_NODE_OPTIONS'] ?? '';
/** USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every Linux we run on). */
const TICKS_PER_SECOND = 100;

interface MemberView {
  readonly state: string;
  readonly lastHandshake: number | null;
  readonly meshIPv4: string;
  readonly wireguard: boolean;
  readonly path: string | null;
  readonly endpoint: string | null;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return m?.[1] === undefined ? NaN : Number(m[1]) * 1024;
}

/** utime + stime in ticks (fields 14 and 15; the command name in field 2 may contain spaces). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function quantiles(values: readonly number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0] ?? NaN, median: sorted[Math.floor(sorted.length / 2)] ?? NaN, max: sorted.at(-1) ?? NaN };
}

async function main(): Promise<void> {
  const available = allAvailable(rootAvailable(), netnsAvailable(), tunAvailable());
  if (!available.available) throw new Error(`bench:agent needs ${available.reason}`);
  if (!(Number.isInteger(NODES) && NODES >= 2 && NODES <= 200)) throw new Error('BENCH_NODES must be 2–200');
  if (NODE_OPTIONS !== '') process.env['NODE_OPTIONS'] = NODE_OPTIONS;
  const lab = new MeshLab(226);
  try {
    const nodes: LabNode[] = [];
    for (let i = 0; i < NODES; i++) nodes.push(lab.addNode());
    const [first] = nodes as [LabNode];
    const started = Date.now();
    const metrics = ['--metrics', '127.0.0.1:9101'];
    lab.start(first, [], metrics);
    for (const n of nodes.slice(1)) lab.start(n, [first], metrics);
    const metricsLine = (n: LabNode): string =>
      lab.topology
        .exec(n.ns, [
          process.execPath,
          '-e',
          "fetch('http://127.0.0.1:9101/metrics').then(async (r) => process.stdout.write(await r.text()))",
        ])
        .split('\n')
        .filter((l) =>
          /^meshguard_(wireguard_(peers|handshakes_total|handshake_initiations_total)|udp_datagrams_total)/.test(l),
        )
        .join(', ');
    /** Non-zero failure and drop counters from the node's /metrics (inside its namespace). */
    const problems = (n: LabNode): string =>
      lab.topology
        .exec(n.ns, [
          process.execPath,
          '-e',
          "fetch('http://127.0.0.1:9101/metrics').then(async (r) => process.stdout.write(await r.text()))",
        ])
        .split('\n')
        .filter((l) => /^meshguard_(wireguard_(handshake_failures|drops)|udp_drops|swim_drops)_total\{/.test(l))
        .filter((l) => !l.endsWith(' 0'))
        .join(', ');

    const members = (n: LabNode): MemberView[] =>
      (JSON.parse(lab.control(n, ['status', '--json'])) as { members: MemberView[] }).members;
    const converged = (n: LabNode): boolean => {
      try {
        const view = members(n);
        return view.length === NODES - 1 && view.every((m) => m.state === 'alive' && m.lastHandshake !== null);
      } catch {
        return false;
      }
    };
    const pending = new Set(nodes);
    const deadline = Date.now() + Number(process.env['BENCH_TIMEOUT_SECONDS'] ?? 300) * 1000;
    while (pending.size > 0) {
      if (Date.now() > deadline) {
        // What the stragglers see: how many members in which state, how many with a session.
        const views = [...pending].slice(0, 5).map((n) => {
          try {
            const view = members(n);
            const states = new Map<string, number>();
            for (const m of view) states.set(m.state, (states.get(m.state) ?? 0) + 1);
            const sessions = view.filter((m) => m.lastHandshake !== null).length;
            const missing = view
              .filter((m) => m.lastHandshake === null)
              .slice(0, 3)
              .map((m) => {
                const other = nodes.find((o) => o.meshIPv4 === m.meshIPv4);
                const back = other === undefined ? undefined : members(other).find((x) => x.meshIPv4 === n.meshIPv4);
                return `${m.meshIPv4}=${other?.lanAddress ?? '?'} (tunnel ${String(m.wireguard)}, ${m.path ?? '-'}, ${m.endpoint ?? '-'}; their view of us: tunnel ${String(back?.wireguard)}, hs ${String(back?.lastHandshake ?? null)})`;
              });
            const udp = lab.topology
              .exec(n.ns, ['cat', '/proc/net/snmp'])
              .split('\n')
              .filter((l) => l.startsWith('Udp:'));
            const [head, values] = [udp[0]?.split(' ') ?? [], udp[1]?.split(' ') ?? []];
            const kernel = head
              .map((h, i) => `${h}=${values[i] ?? '?'}`)
              .filter((kv) => /^(InDatagrams|RcvbufErrors|InErrors|SndbufErrors)=/.test(kv))
              .join(' ');
            return `${n.name} ${n.meshIPv4} [${kernel}] ${metricsLine(n)}: ${JSON.stringify(Object.fromEntries(states))}, ${String(sessions)} sessions; ${problems(n)}; missing e.g. ${missing.join('; ')}`;
          } catch (err) {
            return `${n.name}: ${String(err)}`;
          }
        });
        throw new Error(`${String(pending.size)} node(s) never saw the full mesh:\n${views.join('\n')}`);
      }
      for (const n of [...pending]) if (converged(n)) pending.delete(n);
      await new Promise((r) => setTimeout(r, 500));
    }
    const convergedAfter = (Date.now() - started) / 1000;

    // Settle: the join's gossip bursts are over, then measure an idle window.
    await new Promise((r) => setTimeout(r, 5000));
    const pids = nodes.map((n) => {
      if (n.daemon === null) throw new Error(`${n.name} is not running`);
      return n.daemon.pid;
    });
    const ticksBefore = pids.map(cpuTicks);
    const peakRss = pids.map(rssBytes);
    const windowStart = Date.now();
    while (Date.now() - windowStart < IDLE_SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      pids.forEach((pid, i) => {
        peakRss[i] = Math.max(peakRss[i] ?? 0, rssBytes(pid));
      });
    }
    const seconds = (Date.now() - windowStart) / 1000;
    const cpuPercent = pids.map(
      (pid, i) => ((cpuTicks(pid) - (ticksBefore[i] ?? 0)) / TICKS_PER_SECOND / seconds) * 100,
    );
    const rss = quantiles(peakRss.map((b) => b / 2 ** 20));
    const cpu = quantiles(cpuPercent);
    const stillMeshed = nodes.filter(converged).length;

    const rows: [string, string][] = [
      ['nodes (each with N − 1 peers)', String(NODES)],
      ['daemon V8 flags', NODE_OPTIONS === '' ? '(none)' : NODE_OPTIONS],
      ['full mesh (members alive + WireGuard sessions) after', `${convergedAfter.toFixed(1)} s`],
      ['idle window', `${seconds.toFixed(0)} s`],
      [
        'RSS per daemon min / median / max',
        `${rss.min.toFixed(0)} / ${rss.median.toFixed(0)} / ${rss.max.toFixed(0)} MB`,
      ],
      [
        'idle CPU per daemon min / median / max',
        `${cpu.min.toFixed(2)} / ${cpu.median.toFixed(2)} / ${cpu.max.toFixed(2)} % of one core`,
      ],
      ['still fully meshed after the window', `${String(stillMeshed)} / ${String(NODES)}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\nagent benchmark: ${String(NODES)} meshguard daemons on one LAN (network namespaces)`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
    if (stillMeshed !== NODES) process.exitCode = 1;
  } finally {
    await lab.destroy();
  }
}

await main();
