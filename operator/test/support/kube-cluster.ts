import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { executable, runCommand, ServerProcess, type CommandResult } from './process.js';

/**
 * A throwaway Kubernetes control plane for integration tests (DESIGN.md §9 level 3): etcd,
 * kube-apiserver and kube-controller-manager as local processes on loopback, with credentials
 * made for this run alone. There is no kubelet, so Pods never run; everything the operator
 * touches (custom resources, ConfigMaps, Secrets, Leases, Events, owner-reference garbage
 * collection, admission policies) works as in a real cluster.
 */

/** What `operator/tools/kube-binaries.js --locate` reports. */
export interface KubeBinaries {
  readonly kubernetesVersion: string;
  readonly binDir: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubectl: string;
  readonly built: boolean;
  readonly etcd: string | null;
  readonly etcdVersion: string | null;
  readonly available: boolean;
  readonly missing: readonly string[];
}

/** For requireCapability: whether a cluster can start here, and if not, why. */
export interface KubeAvailability {
  readonly available: boolean;
  readonly reason: string;
  readonly binaries: KubeBinaries | null;
}

// From operator/dist/test/support/ (compiled) back to operator/tools/.
const LOCATOR = fileURLToPath(new URL('../../../tools/kube-binaries.js', import.meta.url));

let located: KubeAvailability | undefined;

/**
 * Asks the script that builds the binaries where they are, so the cache location and the pinned
 * version have one source. Never builds: that is `npm run tools:kube`, which `npm test` runs first.
 */
export function kubeAvailability(): KubeAvailability {
  if (located !== undefined) return located;
  const result = spawnSync(process.execPath, [LOCATOR, '--locate'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim();
    return (located = { available: false, reason: `cannot run ${LOCATOR}: ${why}`, binaries: null });
  }
  const binaries = JSON.parse(result.stdout) as KubeBinaries;
  const reason = binaries.available
    ? `Kubernetes ${binaries.kubernetesVersion} control plane with etcd ${binaries.etcdVersion ?? '?'}`
    : `Kubernetes control-plane binaries missing: ${binaries.missing.join('; ')}`;
  return (located = { available: binaries.available, reason, binaries });
}

/** The kubectl `npm run tools:kube` built (same version as the API server), else one on PATH, else null. */
export function kubectlPath(): string | null {
  const built = kubeAvailability().binaries?.kubectl;
  if (built !== undefined && executable(built) !== null) return built;
  for (const dir of [...(process.env['PATH'] ?? '').split(':').filter((d) => d !== ''), '/usr/local/bin', '/usr/bin']) {
    const path = executable(join(dir, 'kubectl'));
    if (path !== null) return path;
  }
  return null;
}

export interface KubeResponse {
  readonly status: number;
  readonly body: string;
}

/** Client certificate material for the cluster's admin (O=system:masters). */
export interface AdminCredentials {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const START_TIMEOUT_MS = 90_000;

export class KubeCluster {
  /** Admin kubeconfig with embedded credentials, usable by kubectl and @kubernetes/client-node. */
  readonly kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  readonly server: string;
  readonly admin: AdminCredentials;
  readonly binaries: KubeBinaries;
  readonly dir: string;
  private readonly processes: ServerProcess[];
  private stopped = false;
  private readonly onExit: () => void;

  private constructor(
    dir: string,
    server: string,
    kubeconfigPath: string,
    admin: AdminCredentials,
    binaries: KubeBinaries,
    processes: ServerProcess[],
    onExit: () => void,
  ) {
    this.dir = dir;
    this.server = server;
    this.kubeconfigPath = kubeconfigPath;
    this.admin = admin;
    this.binaries = binaries;
    this.processes = processes;
    this.onExit = onExit;
  }

  /**
   * Starts etcd, kube-apiserver and kube-controller-manager and resolves once the API server's
   * /readyz and the controller manager's /healthz answer. Throws (with the servers' output) if
   * the binaries are missing or anything fails to come up; call kubeAvailability() first.
   */
  static async start(): Promise<KubeCluster> {
    const { binaries, reason } = kubeAvailability();
    if (binaries === null || !binaries.available || binaries.etcd === null) throw new Error(reason);
    // Ports are picked and then bound by another process, so one can be taken in between by a
    // concurrent test; such a start fails with "address already in use" and is simply retried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await KubeCluster.startOnce(binaries, binaries.etcd);
      } catch (err) {
        if (attempt >= 3 || !(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
      }
    }
  }

  private static async startOnce(binaries: KubeBinaries, etcdPath: string): Promise<KubeCluster> {
    removeOrphanedDirs();
    const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(dir, OWNER_FILE), `${String(process.pid)}\n`);
    const processes: ServerProcess[] = [];
    // If the test process exits without stop() (an uncaught error), the servers must not outlive it.
    const onExit = (): void => {
      for (const p of processes) p.killNow();
      rmSync(dir, { recursive: true, force: true });
    };
    process.on('exit', onExit);
    try {
      const host = '127.0.0.1';
      const [etcdClientPort, etcdPeerPort, apiPort, cmPort] = await freePorts(host, 4);
      const pki = makePki(dir, host);

      const etcdUrl = `http://${host}:${String(etcdClientPort)}`;
      const etcdPeerUrl = `http://${host}:${String(etcdPeerPort)}`;
      const etcd = new ServerProcess('etcd', [
        etcdPath,
        '--name=meshguard-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=meshguard-test=${etcdPeerUrl}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-level=warn',
      ]);
      processes.push(etcd);
      await waitUntil(processes, 'etcd /health', START_TIMEOUT_MS, async () => {
        const res = await plainGet(`${etcdUrl}/health`);
        return res.status === 200 && res.body.includes('true');
      });

      const server = `https://${host}:${String(apiPort)}`;
      const apiserver = new ServerProcess('kube-apiserver', [
        binaries.kubeApiserver,
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${host}`,
        `--advertise-address=${host}`,
        `--secure-port=${String(apiPort)}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        // The Service range is bookkeeping only: no kube-proxy, nothing is ever routed to it.
        '--service-cluster-ip-range=10.0.0.0/24',
        // A loopback address is not a valid Endpoints address, and the API server refuses to start
        // with one unless it keeps no endpoints for the `kubernetes` Service; clients here use the
        // kubeconfig, never that Service.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
      ]);
      processes.push(apiserver);
      const admin: AdminCredentials = {
        ca: readFileSync(pki.caCert, 'utf8'),
        cert: readFileSync(pki.adminCert, 'utf8'),
        key: readFileSync(pki.adminKey, 'utf8'),
      };
      await waitUntil(processes, 'kube-apiserver /readyz', START_TIMEOUT_MS, async () => {
        const res = await tlsRequest(server, admin, 'GET', '/readyz');
        return res.status === 200;
      });

      const kubeconfigPath = join(dir, 'admin.kubeconfig');
      writeFileSync(kubeconfigPath, kubeconfig(server, admin, 'meshguard-test-admin'), { mode: 0o600 });
      const cmKubeconfig = join(dir, 'controller-manager.kubeconfig');
      const cmCredentials = {
        ca: admin.ca,
        cert: readFileSync(pki.cmCert, 'utf8'),
        key: readFileSync(pki.cmKey, 'utf8'),
      };
      writeFileSync(cmKubeconfig, kubeconfig(server, cmCredentials, 'system:kube-controller-manager'), {
        mode: 0o600,
      });
      const controllerManager = new ServerProcess('kube-controller-manager', [
        binaries.kubeControllerManager,
        `--kubeconfig=${cmKubeconfig}`,
        // No delegated authentication: it would need a front-proxy CA this cluster does not have
        // (and complain about it every few seconds); only /healthz, always allowed, is used here.
        `--bind-address=${host}`,
        `--secure-port=${String(cmPort)}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        // As kubeadm runs it: each controller acts as its own service account with its own RBAC
        // role (the garbage collector may delete anything, the others only what they own).
        '--use-service-account-credentials=true',
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        `--cluster-signing-cert-file=${pki.caCert}`,
        `--cluster-signing-key-file=${pki.caKey}`,
        // One instance per cluster: electing a leader would only delay the start.
        '--leader-elect=false',
        '--controllers=*',
        '--profiling=false',
      ]);
      processes.push(controllerManager);
      await waitUntil(processes, 'kube-controller-manager /healthz', START_TIMEOUT_MS, async () => {
        const res = await tlsRequest(`https://${host}:${String(cmPort)}`, admin, 'GET', '/healthz');
        return res.status === 200;
      });

      return new KubeCluster(dir, server, kubeconfigPath, admin, binaries, processes, onExit);
    } catch (err) {
      await Promise.all(processes.map((p) => p.stop()));
      const details = processes.map((p) => p.describe()).join('\n');
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`Kubernetes test cluster did not start: ${message}\n${details}`, { cause: err });
    }
  }

  /** A request to the API server as the admin; the body, if any, is sent as JSON. */
  request(method: string, path: string, body?: unknown): Promise<KubeResponse> {
    return tlsRequest(this.server, this.admin, method, path, body);
  }

  /** Runs kubectl against this cluster; throws if kubectl is missing. Check kubectlPath() first. */
  async kubectl(args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
    const kubectl = kubectlPath();
    if (kubectl === null) throw new Error('kubectl not found on PATH');
    return runCommand([kubectl, `--kubeconfig=${this.kubeconfigPath}`, ...args], timeoutMs);
  }

  /** Output of every server, for an assertion message. */
  describe(): string {
    return this.processes.map((p) => p.describe()).join('\n');
  }

  /** Stops the servers (controller manager first, etcd last) and removes every file of the run. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of [...this.processes].reverse()) await p.stop();
    process.off('exit', this.onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const DIR_PREFIX = 'meshguard-kube-';
const OWNER_FILE = 'owner.pid';

/**
 * A test process killed outright (SIGKILL, a runner timeout) takes its servers with it (pdeathsig)
 * but leaves its directory, over 100 MB with etcd's preallocated WAL; the next run removes those
 * whose owning process is gone.
 */
function removeOrphanedDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(join(dir, OWNER_FILE), 'utf8'), 10);
    } catch {
      continue; // being created right now, or not ours to judge
    }
    if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Pki {
  readonly caCert: string;
  readonly caKey: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly cmCert: string;
  readonly cmKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

function openssl(args: readonly string[]): void {
  const result = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim();
    throw new Error(`\`openssl ${args.join(' ')}\` failed: ${why}`);
  }
}

/**
 * A CA valid for two days and certificates it signs, all P-256 (fast to generate, accepted by
 * every component). The service-account key is separate from the CA key on purpose, as in a real
 * cluster: tokens must not be verifiable with the CA's key.
 */
function makePki(dir: string, host: string): Pki {
  const p = (name: string): string => join(dir, name);
  const newKey = (name: string): string => {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(name)]);
    return p(name);
  };
  const caKey = newKey('ca.key');
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=meshguard-test-ca',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    p('ca.crt'),
  ]);
  const issue = (name: string, subject: string, extensions: string): { cert: string; key: string } => {
    const key = newKey(`${name}.key`);
    openssl(['req', '-new', '-key', key, '-subj', subject, '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), extensions);
    openssl([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      caKey,
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      p(`${name}.ext`),
      '-out',
      p(`${name}.crt`),
    ]);
    return { cert: p(`${name}.crt`), key };
  };
  const leaf = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n';
  const server = issue(
    'server',
    '/CN=kube-apiserver',
    `${leaf}extendedKeyUsage=serverAuth\n` +
      `subjectAltName=IP:${host},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n`,
  );
  const admin = issue('admin', '/O=system:masters/CN=meshguard-test-admin', `${leaf}extendedKeyUsage=clientAuth\n`);
  const cm = issue('controller-manager', '/CN=system:kube-controller-manager', `${leaf}extendedKeyUsage=clientAuth\n`);
  const saKey = newKey('service-account.key');
  // The API server reads only public keys (or SEC1, not PKCS#8, private ones) as verification keys.
  openssl(['pkey', '-in', saKey, '-pubout', '-out', p('service-account.pub')]);
  return {
    caCert: p('ca.crt'),
    caKey,
    serverCert: server.cert,
    serverKey: server.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    cmCert: cm.cert,
    cmKey: cm.key,
    saKey,
    saPub: p('service-account.pub'),
  };
}

function kubeconfig(server: string, credentials: AdminCredentials, user: string): string {
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  // JSON is valid YAML, and needs no YAML library here.
  return `${JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'meshguard-test', cluster: { server, 'certificate-authority-data': b64(credentials.ca) } }],
      users: [
        {
          name: user,
          user: {
            'client-certificate-data': b64(credentials.cert),
            'client-key-data': b64(credentials.key),
          },
        },
      ],
      contexts: [{ name: 'meshguard-test', context: { cluster: 'meshguard-test', user } }],
      'current-context': 'meshguard-test',
      preferences: {},
    },
    null,
    2,
  )}\n`;
}

/**
 * Ports below Linux's ephemeral range (32768+), so no outgoing connection of this or another
 * test (the API server's own connections to etcd included) can be handed one of them.
 */
const PORT_LOW = 20_000;
const PORT_HIGH = 32_000;

async function freePorts(host: string, count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    if (!ports.includes(port) && (await canBind(host, port))) ports.push(port);
  }
  return ports;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Polls `ready` until it returns true; fails early, with the output, if a server has exited. */
async function waitUntil(
  processes: readonly ServerProcess[],
  what: string,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: string;
  for (;;) {
    const dead = processes.find((p) => p.hasExited);
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}`);
    try {
      if (await ready()) return;
      lastError = 'not ready';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${String(timeoutMs)} ms (${lastError})`);
    await sleep(200);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

function plainGet(url: string): Promise<KubeResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: REQUEST_TIMEOUT_MS }, (res) => {
      collect(res, resolve, reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function tlsRequest(
  server: string,
  credentials: AdminCredentials,
  method: string,
  path: string,
  body?: unknown,
): Promise<KubeResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, server),
      {
        method,
        ca: credentials.ca,
        cert: credentials.cert,
        key: credentials.key,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
          }),
        },
      },
      (res) => {
        collect(res, resolve, reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function collect(res: IncomingMessage, resolve: (r: KubeResponse) => void, reject: (e: Error) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', reject);
  res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
}
