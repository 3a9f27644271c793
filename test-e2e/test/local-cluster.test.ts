import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireCapability } from '@meshguard/core/testing';
import { KubeClient, loadKubeConfig, type MeshNode } from '@meshguard/core/kube';
import {
  allAvailable,
  MESHGUARD_MAIN,
  MeshLab,
  netnsAvailable,
  pingAvailable,
  rootAvailable,
  tunAvailable,
  type Namespace,
  type SpawnedProcess,
} from '@meshguard/agent/testing';
import {
  helmAvailability,
  KubeCluster,
  kubeAvailability,
  OperatorProcess,
  renderChart,
  type RenderedObject,
} from '@meshguard/operator/testing';

// The local end-to-end test (DESIGN.md §9): a real API server and controller manager, the
// chart's manifests applied with kubectl, the operator binary with its ServiceAccount's token,
// and one `meshguard agent` per network namespace standing in for a Node (with a Node object
// and an agent Pod bound to it, whose token the agent uses — so RBAC and the admission policy
// apply exactly as in a cluster). No kubelet runs: the processes are ours.

const ORG = 'e2e';
const NAMESPACE = 'meshguard-system';
const NODES = 3;
const SUBNET = 233;
const AGENT_SA = 'meshguard-agent';
const OPERATOR_SA = 'meshguard-operator';
const MESH_NODES = '/apis/meshguard.dev/v1alpha1/meshnodes';

const kube = kubeAvailability();
const helm = helmAvailability();
const available = allAvailable(rootAvailable(), netnsAvailable(), tunAvailable(), pingAvailable(), {
  available: kube.available && kube.binaries?.kubectl !== undefined,
  reason: kube.reason,
});

interface AgentNode {
  readonly name: string;
  readonly ns: Namespace;
  readonly lanAddress: string;
  readonly stateDir: string;
  readonly kubeconfig: string;
  agent: SpawnedProcess | null;
  meshIPv4: string;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms: ${what}`);
    await sleep(200);
  }
}

/** TCP from the lab's LAN to the API server on loopback: the agents' way to "the cluster". */
function forwarder(host: string, target: number): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(target, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up).pipe(down);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : 0, sockets });
    });
  });
}

interface ContainerEnv {
  readonly spec?: {
    readonly template?: {
      readonly spec?: {
        readonly containers?: readonly { readonly env?: readonly { name: string; value?: string }[] }[];
      };
    };
  };
}

/** The NODE_OPTIONS the chart sets on the one workload of this kind, split into flags. */
function nodeOptionsOf(rendered: readonly RenderedObject[], kind: 'DaemonSet' | 'Deployment'): string[] {
  const workloads = rendered.filter((o) => o.kind === kind);
  assert.equal(workloads.length, 1, `one ${kind} in the chart`);
  const env = (workloads[0]!.object as ContainerEnv).spec?.template?.spec?.containers?.[0]?.env ?? [];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return value.split(' ').filter((f) => f !== '');
}

describe('local cluster: operator, chart manifests and agents in network namespaces', { timeout: 420_000 }, () => {
  let lab: MeshLab | null = null;
  let cluster: KubeCluster | null = null;
  let client: KubeClient | null = null;
  let operator: OperatorProcess | null = null;
  let proxy: Awaited<ReturnType<typeof forwarder>> | null = null;
  let rootLink: string | null = null;
  const nodes: AgentNode[] = [];
  const timings: string[] = [];
  let agentNodeFlags: string[] = [];

  const ready = (t: TestContext): boolean => {
    if (!requireCapability(t, available.available, available.reason)) return false;
    if (!requireCapability(t, helm.available, helm.reason)) return false;
    assert.ok(cluster !== null && client !== null && lab !== null, 'setup failed (see before)');
    return true;
  };
  const kubectl = async (args: readonly string[]): Promise<string> => {
    const r = await cluster!.kubectl(args, 60_000);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const meshNode = async (name: string): Promise<MeshNode> =>
    (await client!.request('GET', `${MESH_NODES}/${name}`)) as MeshNode;
  const http = async (n: AgentNode, path: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`http://${n.lanAddress}:9821${path}`, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, body: await r.text() };
  };
  const sample = (metrics: string, series: string): number => {
    const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? NaN : Number(line.slice(series.length + 1));
  };
  const canPing = (from: AgentNode, to: AgentNode): boolean =>
    lab!.topology.tryExec(from.ns, ['ping', '-c', '1', '-W', '1', to.meshIPv4]).status === 0;
  const diagnostics = (): string =>
    [
      ...nodes.map((n) => `--- ${n.name}\n${n.agent?.output() ?? '(not running)'}`),
      `--- operator\n${operator?.log.slice(-4000) ?? ''}`,
    ].join('\n');
  const startAgent = (n: AgentNode): void => {
    n.agent = lab!.topology.spawn(n.ns, [
      process.execPath,
      ...agentNodeFlags,
      MESHGUARD_MAIN,
      'agent',
      `--node-name=${n.name}`,
      `--org=${ORG}`,
      `--namespace=${NAMESPACE}`,
      `--state-dir=${n.stateDir}`,
      `--advertise=${n.lanAddress}`,
      `--metrics-address=${n.lanAddress}:9821`,
      `--kubeconfig=${n.kubeconfig}`,
    ]);
  };

  /** A kubeconfig for a ServiceAccount token, reaching the API server through the LAN forwarder. */
  const kubeconfigFor = (dir: string, server: string, token: string): string => {
    const path = join(dir, 'kubeconfig');
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'e2e',
            cluster: {
              server,
              'certificate-authority-data': Buffer.from(cluster!.admin.ca).toString('base64'),
              // The serving certificate names 127.0.0.1 and localhost; the forwarder is neither.
              'tls-server-name': 'localhost',
            },
          },
        ],
        users: [{ name: 'sa', user: { token } }],
        contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: 'sa' } }],
        'current-context': 'e2e',
      }),
      { mode: 0o600 },
    );
    return path;
  };
  const tokenFor = async (sa: string, pod?: { name: string; uid: string }): Promise<string> => {
    const res = (await client!.request('POST', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${sa}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          expirationSeconds: 3600,
          ...(pod !== undefined && { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', ...pod } }),
        },
      },
    })) as { status: { token: string } };
    return res.status.token;
  };

  before(async () => {
    if (!available.available || !helm.available) return;
    lab = new MeshLab(SUBNET);
    // The test process's side of the LAN: a veth from the hub's bridge into this namespace.
    const hostAddress = lab.lanIp(250);
    rootLink = `mge2e${String(process.pid % 10000)}`;
    const ip = (args: string[]): void => {
      const r = spawnSync('ip', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    };
    ip(['link', 'add', rootLink, 'type', 'veth', 'peer', 'name', `${rootLink}h`, 'netns', lab.hub.name]);
    ip(['address', 'add', `${hostAddress}/24`, 'dev', rootLink]);
    ip(['link', 'set', rootLink, 'up']);
    lab.topology.ipIn(lab.hub, ['link', 'set', `${rootLink}h`, 'master', 'br0', 'up']);

    cluster = await KubeCluster.start();
    client = new KubeClient(loadKubeConfig(cluster.kubeconfigPath));
    proxy = await forwarder(hostAddress, Number(new URL(cluster.server).port));
    const server = `https://${hostAddress}:${String(proxy.port)}`;

    // What a user does: the chart's manifests (helm template | kubectl apply), an org, Nodes.
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-e2e-'));
    lab.topology.removeOnDestroy(dir);
    const manifests = join(dir, 'chart.yaml');
    const rendered = renderChart({ org: ORG });
    writeFileSync(manifests, rendered.map((o) => `---\n${o.yaml}`).join('\n'));
    // The processes run with the NODE_OPTIONS the chart gives their containers.
    agentNodeFlags = nodeOptionsOf(rendered, 'DaemonSet');
    const operatorNodeFlags = nodeOptionsOf(rendered, 'Deployment');
    await kubectl(['create', 'namespace', NAMESPACE]);
    const started = Date.now();
    await kubectl(['apply', '--server-side', '-f', manifests]);
    timings.push(`chart manifests applied in ${String(Date.now() - started)} ms`);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/meshorgs.meshguard.dev',
      'crd/meshnodes.meshguard.dev',
    ]);
    const orgFile = join(dir, 'org.yaml');
    writeFileSync(
      orgFile,
      `apiVersion: meshguard.dev/v1alpha1\nkind: MeshOrg\nmetadata:\n  name: ${ORG}\nspec:\n  enrollmentPolicy: AutoInCluster\n`,
    );
    await kubectl(['apply', '-f', orgFile]);

    const operatorDir = mkdtempSync(join(tmpdir(), 'meshguard-e2e-operator-'));
    lab.topology.removeOnDestroy(operatorDir);
    operator = new OperatorProcess({
      kubeconfigPath: kubeconfigFor(operatorDir, cluster.server, await tokenFor(OPERATOR_SA)),
      namespace: NAMESPACE,
      nodeFlags: operatorNodeFlags,
    });

    for (let i = 1; i <= NODES; i++) {
      const name = `node-${String(i)}`;
      await client.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });
      const pod = (await client.request('POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
        body: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `agent-${name}` },
          spec: {
            nodeName: name,
            serviceAccountName: AGENT_SA,
            containers: [{ name: 'agent', image: 'meshguard:0.1.0' }],
          },
        },
      })) as { metadata: { uid: string } };
      const token = await tokenFor(AGENT_SA, { name: `agent-${name}`, uid: pod.metadata.uid });
      const ns = lab.topology.namespace(`a${String(i)}`);
      const lanAddress = lab.attach(ns, [i]).address;
      const stateDir = lab.topology.tempDir();
      const node: AgentNode = {
        name,
        ns,
        lanAddress,
        stateDir,
        kubeconfig: kubeconfigFor(lab.topology.tempDir(), server, token),
        agent: null,
        meshIPv4: '',
      };
      nodes.push(node);
      startAgent(node);
    }
  });

  after(async () => {
    if (nodes.length > 0) console.log(`local e2e: ${timings.join('; ')}`);
    await Promise.all(nodes.flatMap((n) => (n.agent === null ? [] : [n.agent.stop()])));
    await operator?.stop();
    if (proxy !== null) {
      for (const s of proxy.sockets) s.destroy();
      proxy.server.close();
    }
    await cluster?.stop();
    if (rootLink !== null) spawnSync('ip', ['link', 'del', rootLink]);
    await lab?.destroy();
  });

  it('every agent enrolls itself and runs with a v2 certificate from the operator', async (t) => {
    if (!ready(t)) return;
    const started = Date.now();
    try {
      for (const n of nodes) {
        const certified = await until(`${n.name} certified`, 90_000, async () => {
          const mn = await meshNode(n.name).catch(() => undefined);
          return mn?.status?.certificate !== undefined && mn.status.meshIPv4 !== undefined ? mn : undefined;
        });
        n.meshIPv4 = certified.status!.meshIPv4!;
        assert.equal(certified.spec.nodeName, n.name);
        assert.ok(certified.spec.wireguardPublicKey !== undefined, 'the agent applied its WireGuard key');
        await until(`${n.name} ready`, 60_000, async () =>
          (await http(n, '/readyz').catch(() => null))?.status === 200 ? true : undefined,
        );
      }
    } catch (err) {
      throw new Error(`${String(err)}\n${diagnostics()}`, { cause: err });
    }
    timings.push(`all ${String(NODES)} agents certified and ready ${String(Date.now() - started)} ms after start`);
    // Every agent reported its endpoint (rate-limited heartbeat) for the others to seed from.
    for (const n of nodes) {
      const mn = await until(`${n.name} endpoint`, 30_000, async () => {
        const m = await meshNode(n.name);
        return m.status?.endpoint !== undefined && m.status.lastSeen !== undefined ? m : undefined;
      });
      assert.equal(mn.status?.endpoint, `${n.lanAddress}:51821`);
    }
  });

  it('full-mesh traffic between the agents, with metrics scraped from each', async (t) => {
    if (!ready(t)) return;
    const started = Date.now();
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        await until(`${from.name} → ${to.name} ping`, 60_000, () => (canPing(from, to) ? true : undefined)).catch(
          (err: unknown) => {
            throw new Error(`${String(err)}\n${diagnostics()}`, { cause: err });
          },
        );
      }
    }
    timings.push(`full mesh pinging ${String(Date.now() - started)} ms after ready`);
    const rss: string[] = [];
    for (const n of nodes) {
      const metrics = (await http(n, '/metrics')).body;
      assert.equal(
        sample(metrics, 'meshguard_wireguard_peers{state="established"}'),
        NODES - 1,
        `${n.name}\n${metrics}`,
      );
      assert.equal(sample(metrics, 'meshguard_members{state="alive"}'), NODES - 1);
      assert.ok(sample(metrics, 'meshguard_wireguard_handshakes_total') >= 1);
      assert.match(metrics, /^process_resident_memory_bytes \d/m);
      rss.push((sample(metrics, 'process_resident_memory_bytes') / 2 ** 20).toFixed(0));
      const status = JSON.parse((await http(n, '/v1/status')).body) as { mesh_ip: string };
      assert.equal(status.mesh_ip, n.meshIPv4);
    }
    timings.push(`agent RSS ${rss.join(' / ')} MB (node ${agentNodeFlags.join(' ')})`);
  });

  it('a MeshNode servicePolicy is enforced by that node’s agent on inbound traffic', async (t) => {
    if (!ready(t)) return;
    const [first, second] = nodes as [AgentNode, AgentNode];
    // Two TCP services on node-1's mesh address; node-2 connects to them through the tunnel.
    const server = lab!.topology.spawn(first.ns, [
      process.execPath,
      '-e',
      `const net = require('node:net');
       for (const port of [8080, 9090]) net.createServer((s) => s.end('ok ' + port)).listen(port, '${first.meshIPv4}');`,
    ]);
    const connects = (port: number): boolean =>
      lab!.topology.tryExec(second.ns, [
        process.execPath,
        '-e',
        `const s = require('node:net').connect(${String(port)}, '${first.meshIPv4}');
         s.setTimeout(1500, () => process.exit(3));
         s.on('data', () => process.exit(0));
         s.on('error', () => process.exit(4));`,
      ]).status === 0;
    try {
      await until('both services reachable before any policy', 10_000, () =>
        connects(8080) && connects(9090) ? true : undefined,
      );
      const started = Date.now();
      await kubectl([
        'patch',
        'meshnode',
        first.name,
        '--type=merge',
        '-p',
        JSON.stringify({
          spec: {
            servicePolicy: { defaultAction: 'deny', rules: [{ action: 'allow', protocol: 'tcp', ports: 8080 }] },
          },
        }),
      ]);
      await until('9090 refused by the policy', 10_000, () => (connects(9090) ? undefined : true));
      timings.push(`service policy in force ${String(Date.now() - started)} ms after kubectl patch`);
      assert.ok(connects(8080), 'the allowed port still connects');
      assert.ok(canPing(second, first), 'ICMP always passes');
      const metrics = (await http(first, '/metrics')).body;
      assert.ok(sample(metrics, 'meshguard_wireguard_drops_total{reason="policy-denied"}') >= 1, metrics);
    } finally {
      await server.stop();
    }
  });

  it('a `kubectl patch` revocation reaches every agent within 10 s', async (t) => {
    if (!ready(t)) return;
    const [first, second, target] = nodes as [AgentNode, AgentNode, AgentNode];
    const started = Date.now();
    await kubectl(['patch', 'meshnode', target.name, '--type=merge', '-p', '{"spec":{"revoked":true}}']);
    const reached = new Map<string, number>();
    await until('revocation applied by every other agent', 10_000, async () => {
      for (const n of [first, second]) {
        if (reached.has(n.name)) continue;
        const metrics = (await http(n, '/metrics')).body;
        if (sample(metrics, 'meshguard_revocations_applied_total') >= 1 && !canPing(n, target)) {
          reached.set(n.name, Date.now() - started);
        }
      }
      return reached.size === 2 ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)} (reached: ${JSON.stringify([...reached])})\n${diagnostics()}`, { cause: err });
    });
    timings.push(`revocation applied and the node cut off at ${[...reached.values()].join(' / ')} ms`);
    // The revoked agent stops its mesh and says why; the others still reach each other.
    const readyz = await until('revoked agent not ready', 10_000, async () => {
      const r = await http(target, '/readyz');
      return r.status === 503 ? r.body : undefined;
    });
    assert.match(readyz, /revoked/);
    assert.ok(canPing(first, second));
  });

  it('a restart with the API brings a fresh WireGuard key, a new certificate, and the mesh back', async (t) => {
    if (!ready(t)) return;
    const [first, second] = nodes as [AgentNode, AgentNode];
    const before = await meshNode(second.name);
    assert.equal(statSync(join(second.stateDir, 'identity.key')).mode & 0o777, 0o600);
    await second.agent?.stop();
    const started = Date.now();
    startAgent(second);
    const after = await until('re-enrolled with a new WireGuard key', 30_000, async () => {
      const mn = await meshNode(second.name);
      return mn.spec.wireguardPublicKey !== before.spec.wireguardPublicKey &&
        mn.status?.certificate !== before.status?.certificate
        ? mn
        : undefined;
    });
    assert.equal(after.spec.publicKey, before.spec.publicKey, 'the identity is kept on the host');
    await until('mesh back after the restart', 60_000, () =>
      canPing(first, second) && canPing(second, first) ? true : undefined,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${diagnostics()}`, { cause: err });
    });
    timings.push(`restart with a fresh WireGuard key: pinging again after ${String(Date.now() - started)} ms`);
  });

  it('an agent restarts from its on-disk cache while the API server is unreachable', async (t) => {
    if (!ready(t)) return;
    const [first, second] = nodes as [AgentNode, AgentNode];
    await first.agent?.stop();
    proxy!.server.close();
    for (const s of proxy!.sockets) s.destroy();
    const started = Date.now();
    startAgent(first);
    await until('restarted agent pings its peer without the API', 60_000, () =>
      canPing(first, second) ? true : undefined,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${diagnostics()}`, { cause: err });
    });
    timings.push(`restart without the API: pinging again after ${String(Date.now() - started)} ms`);
    assert.match(first.agent?.output() ?? '', /running from the cached certificate/);
  });
});
