/**
 * `npm run bench:swim` (root): the SWIM node in the deterministic simulator, for a quick mesh
 * and a 1000-node one (BENCH_SWIM_SIZES=200,1000 to change; BENCH_SWIM_SEED for another run).
 * Every number is virtual time and simulated traffic, so runs are repeatable to the byte:
 *
 *   - join: all nodes start within one second and join through 3 seeds; protocol periods until
 *     every node holds every other as alive, and the traffic meanwhile;
 *   - steady: bytes per node per second once converged (probes, acks, certificates if any);
 *   - detection: one node crashes; time until the first, the median, and every node marks it dead;
 *   - slow nodes: 10 % of nodes process every datagram late (uniform 0–2 s, in order) for a
 *     minute; how many nodes were falsely declared dead, by how many observers, and how many
 *     false suspicions were raised — with Lifeguard (local health, suspicion confirmations and
 *     the refutation hint) as configured by default.
 *
 * Links: 5–40 ms one way per link, ±10 ms jitter, 1 % loss. Trust is one open-mode trust set
 * shared (and memoised) by all nodes — see SharedOpenTrust — because a thousand nodes each
 * checking a thousand curve points and certificates would measure the CPU, not the protocol;
 * the org-certificate path is exercised by the tests and, for bytes, by the `org` row.
 */
import process from 'node:process';
import { buildMesh, type MeshTrust, type SimMesh } from '../src/sim/mesh-builder.js';
import { MeshObserver } from '../src/sim/mesh-observer.js';
import { joinAll, killAndDetect, liveHosts, runUntilConverged } from '../src/sim/scenarios.js';
import { DEFAULT_SWIM_CONFIG } from '../src/swim/swim-config.js';

const SIZES = (process.env['BENCH_SWIM_SIZES'] ?? '200,1000').split(',').map(Number);
const SEED = Number(process.env['BENCH_SWIM_SEED'] ?? 1);
const LINK = { latencyMinMs: 5, latencyMaxMs: 40, jitterMs: 10, loss: 0.01 };
const PERIOD_MS = DEFAULT_SWIM_CONFIG.probeIntervalMs;
const SLOW = { minMs: 0, maxMs: 2000 };
const SLOW_RUN_MS = 60_000;

interface Row {
  readonly label: string;
  readonly value: string;
}

function traffic(mesh: SimMesh): { bytes: number; packets: number } {
  let bytes = 0;
  let packets = 0;
  for (const h of mesh.sim.hosts) {
    bytes += h.sentBytes;
    packets += h.sentPackets;
  }
  return { bytes, packets };
}

function perNodePerSecond(bytes: number, nodes: number, ms: number): string {
  return `${Math.round(bytes / nodes / (ms / 1000)).toLocaleString('en-US')} B`;
}

function setUp(size: number, trust: MeshTrust): { mesh: SimMesh; observer: MeshObserver } {
  const observer = new MeshObserver(size);
  const mesh = buildMesh({ seed: SEED, size, trust, link: LINK, onEvent: observer.onEvent });
  mesh.identities.forEach((id, i) => observer.register(i, id.publicKey));
  return { mesh, observer };
}

function run(size: number): Row[] {
  const rows: Row[] = [];
  const wall = performance.now();
  const { mesh, observer } = setUp(size, 'open');
  const { sim } = mesh;

  joinAll(mesh, [0, 1, 2], 1000);
  const converged = runUntilConverged(mesh, observer, 300_000, 250);
  const joinTraffic = traffic(mesh);
  rows.push({
    label: 'join: periods to converge',
    value:
      converged === null
        ? `not within 300 (missing ${observer.missing(liveHosts(mesh))})`
        : (converged / PERIOD_MS).toFixed(1),
  });
  rows.push({ label: 'join: bytes/node/s while joining', value: perNodePerSecond(joinTraffic.bytes, size, sim.now) });

  sim.run(10_000); // let the last rumours settle
  const before = traffic(mesh);
  const steadyMs = 30_000;
  sim.run(steadyMs);
  const steady = traffic(mesh);
  rows.push({ label: 'steady: bytes/node/s', value: perNodePerSecond(steady.bytes - before.bytes, size, steadyMs) });
  rows.push({
    label: 'steady: packets/node/s',
    value: ((steady.packets - before.packets) / size / (steadyMs / 1000)).toFixed(1),
  });

  const victim = Math.floor(size / 2);
  const detection = killAndDetect(mesh, observer, victim, 120_000);
  const s = (ms: number | null): string => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);
  rows.push({
    label: 'crash: first / median / all marked dead',
    value: `${s(detection.firstMs)} / ${s(detection.medianMs)} / ${s(detection.allMs)}`,
  });
  rows.push({ label: 'crash: false deaths meanwhile', value: `${observer.falseDeaths}` });

  // 10 % of the survivors turn slow; the crashed one stays down.
  sim.run(10_000);
  observer.resetFalsePositives();
  const slow = liveHosts(mesh).filter((h) => h % 10 === 3);
  for (const h of slow) sim.setSlow(h, SLOW);
  const slowStart = traffic(mesh);
  sim.run(SLOW_RUN_MS);
  const slowEnd = traffic(mesh);
  for (const h of slow) sim.setSlow(h, null);
  rows.push({
    label: `slow 10% (${slow.length} nodes, ${SLOW.minMs}–${SLOW.maxMs} ms late, ${SLOW_RUN_MS / 1000} s)`,
    value: `${observer.falselyDeadSubjects} nodes falsely dead (${observer.falseDeaths} verdicts), ${observer.falseSuspicions} false suspicions`,
  });
  rows.push({
    label: 'slow: bytes/node/s',
    value: perNodePerSecond(slowEnd.bytes - slowStart.bytes, size, SLOW_RUN_MS),
  });
  rows.push({
    label: 'simulated / wall time',
    value: `${(sim.now / 1000).toFixed(0)} s / ${((performance.now() - wall) / 1000).toFixed(1)} s`,
  });
  return rows;
}

/**
 * The org-certificate path on a small mesh: every Ping/Ack carries the 314-byte slot, and a
 * member learned by gossip must be probed directly (quarantine) before its certificate admits it.
 */
function orgRows(size: number): Row[] {
  const wall = performance.now();
  const { mesh, observer } = setUp(size, 'org');
  joinAll(mesh, [0, 1, 2], 1000);
  const converged = runUntilConverged(mesh, observer, 120_000, 250);
  mesh.sim.run(10_000);
  const before = traffic(mesh);
  mesh.sim.run(30_000);
  const after = traffic(mesh);
  return [
    {
      label: 'join: periods to converge',
      value: converged === null ? 'not within 120' : (converged / PERIOD_MS).toFixed(1),
    },
    { label: 'steady: bytes/node/s', value: perNodePerSecond(after.bytes - before.bytes, size, 30_000) },
    {
      label: 'simulated / wall time',
      value: `${(mesh.sim.now / 1000).toFixed(0)} s / ${((performance.now() - wall) / 1000).toFixed(1)} s`,
    },
  ];
}

function print(title: string, rows: readonly Row[]): void {
  const width = Math.max(...rows.map((r) => r.label.length));
  console.log(`\n${title}`);
  for (const r of rows) console.log(`  ${r.label.padEnd(width)}  ${r.value}`);
}

function main(): void {
  console.log(
    `SWIM simulator, seed ${SEED}: period ${PERIOD_MS} ms, direct timeout ${DEFAULT_SWIM_CONFIG.probeTimeoutMs} ms, ` +
      `k=${DEFAULT_SWIM_CONFIG.indirectChecks}, links ${LINK.latencyMinMs}–${LINK.latencyMaxMs} ms ±${LINK.jitterMs} ms, loss ${LINK.loss * 100}%`,
  );
  for (const size of SIZES) print(`N = ${size}`, run(size));
  print('N = 40, org certificates on every node (per-node trust sets, real signature checks)', orgRows(40));
}

main();
