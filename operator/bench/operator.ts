import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadYaml } from '@kubernetes/client-node';
import {
  Informer,
  KubeListWatcher,
  MESH_NODE_NAMES,
  MESH_ORG_NAMES,
  type MeshNode,
  meshResourcePath,
} from '@meshguard/core/kube';
import { newNodeKey, newWireGuardKey, startReconcilerCluster } from '../test/reconcilers/cluster-fixture.js';
import { kubeAvailability } from '../test/support/kube-cluster.js';
import { OperatorProcess } from '../test/wiring/operator-process.js';

// npm run bench:operator: the operator binary (main.js, real registrations) in its own process,
// so its peak RSS is its own, certifying a fleet of MeshNodes on a throwaway control plane.

const NODES = Number(process.env['BENCH_NODES'] ?? 2000);
const CREATE_CONCURRENCY = 50;
const GOAL_SECONDS = 60;
const GOAL_RSS_MB = 200;
const TIMEOUT_MS = 300_000;
// From operator/dist/bench/ to the repository's chart.
const CHART_VALUES = fileURLToPath(new URL('../../../charts/meshguard/values.yaml', import.meta.url));

const meshNodeRef = { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshNode', plural: 'meshnodes', namespaced: false };

/** The operator runs as the chart deploys it: with the chart's default NODE_OPTIONS (heap limits). */
function chartNodeOptions(): string {
  const values = loadYaml<{ operator?: { nodeOptions?: string } }>(readFileSync(CHART_VALUES, 'utf8'));
  return values.operator?.nodeOptions ?? '';
}

function metric(text: string, pattern: RegExp): string {
  return pattern.exec(text)?.[1] ?? '?';
}

async function main(): Promise<void> {
  const availability = kubeAvailability();
  if (!availability.available) {
    console.log(`skipped: ${availability.reason}`);
    return;
  }
  const env = await startReconcilerCluster();
  const nodeFlags = (process.env['BENCH_OPERATOR_NODE_FLAGS'] ?? chartNodeOptions()).split(' ').filter((f) => f !== '');
  const operator = new OperatorProcess({
    kubeconfigPath: env.cluster.kubeconfigPath,
    namespace: env.namespace,
    nodeFlags,
  });
  const certifiedAt = new Map<string, number>();
  const watcher = new Informer<MeshNode>({
    name: 'bench-meshnodes',
    listWatcher: new KubeListWatcher<MeshNode>(env.client, meshNodeRef),
  });
  try {
    let allCertified: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      allCertified = resolve;
    });
    const note = (n: MeshNode): void => {
      if (n.status?.certificate === undefined || certifiedAt.has(n.metadata.name)) return;
      certifiedAt.set(n.metadata.name, Date.now());
      if (certifiedAt.size === NODES) allCertified();
    };
    watcher.addHandlers({
      add: note,
      update: (_o, n) => {
        note(n);
      },
    });
    watcher.start();
    await watcher.waitForSync();

    // Up and leading before the clock starts: the measure is certification, not process start.
    const readyBy = Date.now() + 30_000;
    for (;;) {
      if (Date.now() > readyBy) throw new Error(`operator not ready:\n${operator.log}`);
      const text = operator.url === undefined ? '' : await operator.metrics().catch(() => '');
      if (/^leader_election_master_status\{name="meshguard-operator"\} 1$/m.test(text)) break;
      await sleep(100);
    }
    const rssIdle = operator.peakRssBytes() ?? 0;

    const keys = Array.from({ length: NODES }, () => [newNodeKey(), newWireGuardKey()] as const);
    const start = Date.now();
    await env.client.request('POST', meshResourcePath(MESH_ORG_NAMES), {
      body: {
        apiVersion: 'meshguard.dev/v1alpha1',
        kind: 'MeshOrg',
        metadata: { name: 'bench' },
        spec: { enrollmentPolicy: 'Auto' },
      },
    });
    let next = 0;
    const creator = async (): Promise<void> => {
      for (let i = next++; i < NODES; i = next++) {
        const [publicKey, wireguardPublicKey] = keys[i] ?? [];
        await env.client.request('POST', meshResourcePath(MESH_NODE_NAMES), {
          body: {
            apiVersion: 'meshguard.dev/v1alpha1',
            kind: 'MeshNode',
            metadata: { name: `bench-${String(i).padStart(5, '0')}` },
            spec: { org: 'bench', publicKey, wireguardPublicKey, external: true },
          },
        });
      }
    };
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, creator));
    const created = Date.now();

    // RSS sampled while it works too, in case the process dies before the end.
    let rssPeak = rssIdle;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, operator.peakRssBytes() ?? 0);
    }, 250);
    const timedOut = sleep(TIMEOUT_MS).then(() => 'timeout' as const);
    const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
    clearInterval(sampler);
    const end = Date.now();
    rssPeak = Math.max(rssPeak, operator.peakRssBytes() ?? 0);
    const text = await operator.metrics();

    const seconds = (end - start) / 1000;
    const mb = rssPeak / 2 ** 20;
    const rows: [string, string][] = [
      ['N (MeshNodes)', String(NODES)],
      ['certified', `${String(certifiedAt.size)}${outcome === 'timeout' ? ' (TIMED OUT)' : ''}`],
      ['time to create all (client)', `${((created - start) / 1000).toFixed(2)} s`],
      ['time to all certified', `${seconds.toFixed(2)} s (goal <= ${String(GOAL_SECONDS)} s)`],
      ['throughput', `${(certifiedAt.size / seconds).toFixed(0)} nodes/s`],
      ['operator Node flags', nodeFlags.join(' ') || '(none)'],
      ['operator RSS idle (VmHWM)', `${(rssIdle / 2 ** 20).toFixed(1)} MB`],
      ['operator RSS peak (VmHWM)', `${mb.toFixed(1)} MB (goal <= ${String(GOAL_RSS_MB)} MB)`],
      [
        'at the end: RSS / V8 heap total / used / external',
        [
          /^process_resident_memory_bytes (\S+)$/m,
          /^nodejs_heap_size_total_bytes (\S+)$/m,
          /^nodejs_heap_size_used_bytes (\S+)$/m,
          /^nodejs_external_memory_bytes (\S+)$/m,
        ]
          .map((re) => `${(Number(metric(text, re)) / 2 ** 20).toFixed(1)} MB`)
          .join(' / '),
      ],
      [
        'meshnode reconciles (sum s / count)',
        `${metric(text, /^controller_runtime_reconcile_time_seconds_sum\{controller="meshnode"\} (\S+)$/m)} / ${metric(text, /^controller_runtime_reconcile_time_seconds_count\{controller="meshnode"\} (\S+)$/m)}`,
      ],
      [
        'meshnode reconcile errors',
        metric(text, /^controller_runtime_reconcile_errors_total\{controller="meshnode"\} (\S+)$/m),
      ],
      [
        'meshorg reconciles',
        metric(text, /^controller_runtime_reconcile_time_seconds_count\{controller="meshorg"\} (\S+)$/m),
      ],
      ['certificates issued (metric)', metric(text, /^meshguard_certificates_issued_total\{org="bench"\} (\S+)$/m)],
      ['verdict', outcome === 'done' && seconds <= GOAL_SECONDS && mb <= GOAL_RSS_MB ? 'PASS' : 'MISS (see above)'],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\noperator benchmark (${availability.reason})`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
    if (outcome === 'timeout') process.exitCode = 1;
  } finally {
    await watcher.stop();
    await operator.stop();
    await env.cluster.stop();
  }
}

await main();
// The API client's keep-alive sockets and timers would hold the process open for minutes.
process.exit();
