import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  allAvailable,
  netnsAvailable,
  pingAvailable,
  readWgDump,
  requireBinary,
  startWireGuardGo,
  Topology,
  tryRun,
  uniqueIfname,
  wgAvailable,
  wireguardGoAvailable,
  type Availability,
  type Namespace,
  type VethPair,
  type WgDump,
  type WgDumpPeer,
  type WgKeyPairText,
  type WgPeerSpec,
  type WireGuardGoDevice,
  type WireGuardGoOptions,
  generateWgKeyPair,
} from '../support/netns.js';

/**
 * Our `meshguard wg` interface against wireguard-go, each in its own network namespace: the
 * shared pieces of the interop tests. An Interop owns one Topology plus what the Topology cannot
 * see (our detached daemons, processes whose whole output we need); `destroy()` takes our
 * interfaces down with `meshguard wg down` first, so a daemon that does not exit cleanly is
 * reported instead of being silently SIGKILLed with the namespace.
 */

/** Everything the interop tests need on the machine. */
export function interopAvailable(): Availability {
  return allAvailable(netnsAvailable(), wireguardGoAvailable(), wgAvailable(), pingAvailable());
}

const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const SOCKET_DIR = '/var/run/wireguard';
/** Enough output to explain a failure, bounded so a chatty process cannot exhaust memory. */
const OUTPUT_LIMIT = 256 * 1024;

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * Whether `promise` is still pending after `ms`. The timer is cleared as soon as it settles: a
 * pending 30 s timer would keep the test process alive long after its tests are done.
 */
export async function timedOut(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    return await Promise.race([promise.then(() => false), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A process inside a namespace whose complete stdout and stderr we keep. Unlike the support
 * harness's SpawnedProcess, `closed` settles on 'close' rather than 'exit': 'exit' can fire
 * while the pipes still hold the last lines, which is exactly where ping prints its summary.
 */
export class Proc {
  readonly argv: readonly string[];
  readonly closed: Promise<Finished>;
  #stdout = '';
  #stderr = '';
  #finished: Finished | undefined;
  readonly #kill: (signal: NodeJS.Signals) => void;

  constructor(argv: readonly string[], env: NodeJS.ProcessEnv) {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    this.argv = argv;
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#kill = (signal) => child.kill(signal);
    child.stdout.on('data', (chunk: Buffer) => {
      this.#stdout = (this.#stdout + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    });
    this.closed = new Promise((resolve) => {
      child.on('error', (err) => {
        this.#stderr += `\nspawn failed: ${err.message}`;
        this.#finished = { code: null, signal: null };
        resolve(this.#finished);
      });
      child.on('close', (code, signal) => {
        this.#finished = { code, signal };
        resolve(this.#finished);
      });
    });
  }

  get finished(): Finished | undefined {
    return this.#finished;
  }

  get stdout(): string {
    return this.#stdout;
  }

  /** Both streams, labelled, for assertion messages. */
  describe(): string {
    const status = this.#finished === undefined ? 'running' : JSON.stringify(this.#finished);
    return `\`${this.argv.join(' ')}\` (${status})\n--- stdout\n${this.#stdout}--- stderr\n${this.#stderr}---`;
  }

  /** Every stdout line that is a JSON object: how our fixtures report. */
  reports(): Record<string, unknown>[] {
    return this.#stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The first report satisfying `accept`; fails with the process's output if it ends or times out first. */
  async waitForReport(
    accept: (report: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.reports().find(accept);
      if (found !== undefined) return found;
      if (this.#finished !== undefined)
        throw new Error(`process ended without the expected report: ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`no expected report within ${timeoutMs} ms: ${this.describe()}`);
      await sleep(50);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.#finished === undefined) this.#kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process and its pipes are closed. */
  async stop(graceMs = 3000): Promise<Finished> {
    if (this.#finished !== undefined) return this.#finished;
    this.#kill('SIGTERM');
    if (await timedOut(this.closed, graceMs)) this.#kill('SIGKILL');
    return this.closed;
  }
}

/** Our interface, run by `meshguard wg up` (detached daemon), inspected through its UAPI socket. */
export interface MeshguardDevice {
  readonly ns: Namespace;
  readonly ifname: string;
  readonly socketPath: string;
  readonly logPath: string;
  readonly configPath: string;
  /** The detached daemon, as `wg up` reported it. */
  readonly pid: number;
  /** `wg show <ifname> dump` from wireguard-tools, against our UAPI socket. */
  dump(): WgDump;
  /** `meshguard wg show <ifname>`. */
  show(): Promise<string>;
  /** The daemon's log (/var/run/wireguard/<ifname>.log). */
  log(): string;
  /** The TUN link's kernel counters: rx is what our daemon wrote into the kernel. */
  linkStats(): LinkStats;
  /** `meshguard wg down`, then checks that the daemon exited and its socket is gone. Idempotent. */
  down(): Promise<void>;
}

export interface LinkStats {
  readonly rxPackets: number;
  readonly txPackets: number;
}

export interface MeshguardOptions {
  readonly privateKey: string;
  readonly listenPort: number;
  readonly addresses: readonly string[];
  readonly mtu?: number;
  readonly peers: readonly WgPeerSpec[];
  /** Added to the daemon's environment (e.g. MESHGUARD_TEST_PROTOCOL_LIMITS). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The wg-quick file `meshguard wg up` reads. */
export function formatWgQuick(options: MeshguardOptions): string {
  const lines = ['[Interface]', `PrivateKey = ${options.privateKey}`, `ListenPort = ${options.listenPort}`];
  if (options.addresses.length > 0) lines.push(`Address = ${options.addresses.join(', ')}`);
  if (options.mtu !== undefined) lines.push(`MTU = ${options.mtu}`);
  for (const peer of options.peers) {
    lines.push('', '[Peer]', `PublicKey = ${peer.publicKey}`);
    if (peer.presharedKey !== undefined) lines.push(`PresharedKey = ${peer.presharedKey}`);
    if (peer.allowedIps.length > 0) lines.push(`AllowedIPs = ${peer.allowedIps.join(', ')}`);
    if (peer.endpoint !== undefined) lines.push(`Endpoint = ${peer.endpoint}`);
    if (peer.persistentKeepalive !== undefined) lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Alive and not a zombie: a detached daemon is reaped by init, possibly a little later. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function tail(text: string, chars = 6000): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

export class Interop {
  readonly topology = new Topology();
  readonly #procs: Proc[] = [];
  readonly #ours: MeshguardDevice[] = [];
  readonly #ip = requireBinary('ip');
  readonly #wg = requireBinary('wg');

  /** Starts argv inside `ns` in the background; destroy() stops it. */
  spawn(ns: Namespace, argv: readonly string[], env: Readonly<Record<string, string>> = {}): Proc {
    // Only inside our own namespaces: destroy() can account for nothing else.
    if (this.topology.destroyed || !this.topology.namespaceNames().includes(ns.name)) {
      throw new Error(`namespace ${ns.name} is not a live part of this Interop`);
    }
    const proc = new Proc([this.#ip, 'netns', 'exec', ns.name, ...argv], { ...process.env, ...env });
    this.#procs.push(proc);
    return proc;
  }

  /** Runs argv inside `ns` to completion (killed after `timeoutMs`) without blocking the event loop. */
  async run(
    ns: Namespace,
    argv: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<Proc> {
    const proc = this.spawn(ns, argv, options.env);
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (await timedOut(proc.closed, timeoutMs)) await proc.stop(1000);
    return proc;
  }

  /** `meshguard <args>` inside `ns`, with this Node. */
  meshguard(
    ns: Namespace,
    args: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<Proc> {
    return this.run(ns, [process.execPath, CLI_MAIN, ...args], options);
  }

  /** `meshguard wg up --config <file> --interface <unique name>` in `ns`; resolves once it answers. */
  async startMeshguard(ns: Namespace, options: MeshguardOptions): Promise<MeshguardDevice> {
    const ifname = uniqueIfname('mg');
    const socketPath = join(SOCKET_DIR, `${ifname}.sock`);
    const logPath = join(SOCKET_DIR, `${ifname}.log`);
    // If the daemon is SIGKILLed with the namespace, nothing else removes these.
    this.topology.removeOnDestroy(socketPath);
    this.topology.removeOnDestroy(logPath);
    const configPath = join(this.topology.tempDir(), `${ifname}.conf`);
    writeFileSync(configPath, formatWgQuick(options), { mode: 0o600 });
    const upOptions = options.env === undefined ? {} : { env: options.env };
    const up = await this.meshguard(ns, ['wg', 'up', '--config', configPath, '--interface', ifname], upOptions);
    const readLog = (): string => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch (err) {
        return `(no log: ${String(err)})`;
      }
    };
    const pid = /\(pid ([0-9]+),/.exec(up.stdout)?.[1];
    if (up.finished?.code !== 0 || pid === undefined) {
      throw new Error(`meshguard wg up failed: ${up.describe()}\n--- daemon log\n${readLog()}`);
    }
    const topology = this.topology;
    let downed: Promise<void> | undefined;
    const device: MeshguardDevice = {
      ns,
      ifname,
      socketPath,
      logPath,
      configPath,
      pid: Number(pid),
      dump: () => readWgDump(topology, ns, ifname),
      show: async () => {
        const shown = await this.meshguard(ns, ['wg', 'show', ifname]);
        if (shown.finished?.code !== 0) throw new Error(`meshguard wg show failed: ${shown.describe()}`);
        return shown.stdout;
      },
      log: readLog,
      linkStats: () => linkStats(topology, ns, ifname),
      down: () => (downed ??= this.#down(device)),
    };
    this.#ours.push(device);
    return device;
  }

  async #down(device: MeshguardDevice): Promise<void> {
    const problems: string[] = [];
    const result = await this.meshguard(device.ns, ['wg', 'down', device.ifname], { timeoutMs: 15_000 });
    if (result.finished?.code !== 0) problems.push(`wg down failed: ${result.describe()}`);
    const deadline = Date.now() + 5000;
    while (processAlive(device.pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(device.pid)) {
      problems.push(`daemon pid ${device.pid} still running 5 s after wg down; killed`);
      process.kill(device.pid, 'SIGKILL');
    }
    if (existsSync(device.socketPath)) problems.push(`${device.socketPath} left behind`);
    if (problems.length > 0) {
      throw new Error(`${device.ifname}: ${problems.join('; ')}\n--- daemon log\n${tail(device.log())}`);
    }
  }

  /** Runs `wg show <ifname> dump` and returns the raw text or why it failed, for diagnostics. */
  rawDump(ns: Namespace, ifname: string): string {
    const r = this.topology.tryExec(ns, [this.#wg, 'show', ifname, 'dump']);
    return r.status === 0 ? r.stdout : `(wg show ${ifname} dump failed: ${r.stderr.trim()})`;
  }

  /**
   * Takes our interfaces down (reporting a daemon that does not exit), stops every process,
   * then destroys the Topology. Every step runs even if an earlier one failed.
   */
  async destroy(): Promise<void> {
    const errors: unknown[] = [];
    for (const device of this.#ours) {
      try {
        await device.down();
      } catch (err) {
        errors.push(err);
      }
    }
    await Promise.all(this.#procs.map((p) => p.stop(1000)));
    try {
      await this.topology.destroy();
    } catch (err) {
      errors.push(err);
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Interop.destroy() found problems');
  }
}

function linkStats(topology: Topology, ns: Namespace, ifname: string): LinkStats {
  const parsed = JSON.parse(topology.ipIn(ns, ['-s', '-j', 'link', 'show', 'dev', ifname])) as {
    stats64?: { rx?: { packets?: number }; tx?: { packets?: number } };
  }[];
  const stats = parsed[0]?.stats64;
  const rx = stats?.rx?.packets;
  const tx = stats?.tx?.packets;
  if (rx === undefined || tx === undefined) throw new Error(`no stats64 for ${ifname} in ${ns.name}`);
  return { rxPackets: rx, txPackets: tx };
}

// ---------------------------------------------------------------------------------- ping

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  readonly duplicates: number;
  /** Lines ping marked `DUP!`. */
  readonly dupLines: number;
  readonly proc: Proc;
}

export interface PingOptions {
  readonly count?: number;
  /** Seconds between requests. */
  readonly interval?: number;
  /** Seconds to wait for each reply (-W). */
  readonly wait?: number;
  /** Source address (-I). */
  readonly source?: string;
}

function pingArgv(target: string, options: PingOptions): string[] {
  const count = options.count ?? 5;
  return [
    'ping',
    '-n',
    target.includes(':') ? '-6' : '-4',
    '-c',
    String(count),
    '-i',
    String(options.interval ?? 0.2),
    '-W',
    String(options.wait ?? 2),
    ...(options.source === undefined ? [] : ['-I', options.source]),
    target,
  ];
}

/** Parses iputils ping's summary; throws with the whole output if there is none. */
export function parsePing(proc: Proc): PingResult {
  const out = proc.stdout;
  const summary = /([0-9]+) packets transmitted, ([0-9]+) received(?:, \+([0-9]+) duplicates)?/.exec(out);
  if (summary === null) throw new Error(`no ping summary: ${proc.describe()}`);
  return {
    transmitted: Number(summary[1]),
    received: Number(summary[2]),
    duplicates: Number(summary[3] ?? 0),
    dupLines: out.split('\n').filter((l) => l.includes('DUP!')).length,
    proc,
  };
}

export async function ping(
  interop: Interop,
  ns: Namespace,
  target: string,
  options: PingOptions = {},
): Promise<PingResult> {
  const count = options.count ?? 5;
  const timeoutMs = (count * (options.interval ?? 0.2) + (options.wait ?? 2)) * 1000 + 15_000;
  return parsePing(await interop.run(ns, pingArgv(target, options), { timeoutMs }));
}

/** Starts a ping in the background; parse its result with parsePing after `closed`. */
export function pingInBackground(interop: Interop, ns: Namespace, target: string, options: PingOptions = {}): Proc {
  return interop.spawn(ns, pingArgv(target, options));
}

/**
 * Pings once a second until a reply comes back; resolves with how long that took. For
 * "traffic resumes within a bounded time", where a fixed sleep would either flake or hide
 * a slow recovery.
 */
export async function pingUntilReply(
  interop: Interop,
  ns: Namespace,
  target: string,
  timeoutMs: number,
  diagnostics: () => string,
): Promise<number> {
  const started = Date.now();
  let attempts = 0;
  while (Date.now() - started < timeoutMs) {
    attempts++;
    const result = await ping(interop, ns, target, { count: 1, wait: 1 });
    if (result.received > 0) return Date.now() - started;
  }
  throw new Error(`no reply from ${target} within ${timeoutMs} ms (${attempts} attempts)\n${diagnostics()}`);
}

// ---------------------------------------------------------------------------------- polling

/** Polls `probe` until it returns a value other than undefined; fails with `diagnostics()`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined,
  timeoutMs: number,
  diagnostics: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${diagnostics()}`);
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------- a pair

export const PORT = 51820;
export const TUNNEL = {
  ours: { v4: '10.100.0.1', v6: 'fd00:100::1' },
  theirs: { v4: '10.100.0.2', v6: 'fd00:100::2' },
} as const;
export const UNDERLAY = {
  v4: { ours: '192.0.2.1', theirs: '192.0.2.2', prefix: 24 },
  v6: { ours: 'fd00:db8::1', theirs: 'fd00:db8::2', prefix: 64 },
} as const;

/** `ip:port`, bracketed for IPv6, as wg prints endpoints. */
export function endpoint(address: string, port = PORT): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export interface Pair {
  readonly interop: Interop;
  readonly nsOurs: Namespace;
  readonly nsTheirs: Namespace;
  readonly ours: MeshguardDevice;
  /** Replaced by restartTheirs(). */
  theirs: WireGuardGoDevice;
  readonly ourKeys: WgKeyPairText;
  readonly theirKeys: WgKeyPairText;
  readonly theirOptions: WireGuardGoOptions;
  /** Our peer entry for wireguard-go, from our dump. */
  ourPeer(): WgDumpPeer;
  /** wireguard-go's peer entry for us. */
  theirPeer(): WgDumpPeer;
  /** Stops wireguard-go and starts it again with the same key, port, addresses and peers. */
  restartTheirs(): Promise<void>;
  /** Both dumps, our daemon log, wireguard-go's output, and both namespaces' addresses, counters and routes. */
  diagnostics(): string;
}

export interface PairSpec {
  readonly nsOurs: Namespace;
  readonly nsTheirs: Namespace;
  /** The Endpoint our config gives wireguard-go; undefined: we learn it from its handshake. */
  readonly theirEndpoint?: string;
  /** The endpoint wireguard-go is configured with for us; undefined: it learns ours. */
  readonly ourEndpoint?: string;
  readonly ourEnv?: Readonly<Record<string, string>>;
}

/** Our interface and a wireguard-go one as each other's only peer, with the TUNNEL addresses. */
export async function startPair(interop: Interop, spec: PairSpec): Promise<Pair> {
  const ourKeys = generateWgKeyPair();
  const theirKeys = generateWgKeyPair();
  const theirOptions: WireGuardGoOptions = {
    privateKey: theirKeys.privateKey,
    listenPort: PORT,
    addresses: [`${TUNNEL.theirs.v4}/24`, `${TUNNEL.theirs.v6}/64`],
    peers: [
      {
        publicKey: ourKeys.publicKey,
        allowedIps: [`${TUNNEL.ours.v4}/32`, `${TUNNEL.ours.v6}/128`],
        ...(spec.ourEndpoint === undefined ? {} : { endpoint: spec.ourEndpoint }),
      },
    ],
  };
  const theirs = await startWireGuardGo(interop.topology, spec.nsTheirs, theirOptions);
  const ours = await interop.startMeshguard(spec.nsOurs, {
    privateKey: ourKeys.privateKey,
    listenPort: PORT,
    addresses: [`${TUNNEL.ours.v4}/24`, `${TUNNEL.ours.v6}/64`],
    peers: [
      {
        publicKey: theirKeys.publicKey,
        allowedIps: [`${TUNNEL.theirs.v4}/32`, `${TUNNEL.theirs.v6}/128`],
        ...(spec.theirEndpoint === undefined ? {} : { endpoint: spec.theirEndpoint }),
      },
    ],
    ...(spec.ourEnv === undefined ? {} : { env: spec.ourEnv }),
  });
  const onlyPeer = (dump: WgDump, who: string): WgDumpPeer => {
    if (dump.peers.length !== 1) throw new Error(`${who} has ${dump.peers.length} peers, expected 1`);
    return dump.peers[0]!;
  };
  const pair: Pair = {
    interop,
    nsOurs: spec.nsOurs,
    nsTheirs: spec.nsTheirs,
    ours,
    theirs,
    ourKeys,
    theirKeys,
    theirOptions,
    ourPeer: () => onlyPeer(ours.dump(), 'meshguard'),
    theirPeer: () => onlyPeer(pair.theirs.dump(), 'wireguard-go'),
    restartTheirs: async () => {
      const exited = await pair.theirs.process.stop();
      if (exited.signal !== null && exited.signal !== 'SIGTERM') {
        throw new Error(`wireguard-go ended with ${exited.signal}: ${pair.theirs.process.output()}`);
      }
      pair.theirs = await startWireGuardGo(interop.topology, spec.nsTheirs, theirOptions);
    },
    diagnostics: () => {
      const ip = requireBinary('ip');
      const section = (title: string, body: string): string => `--- ${title}\n${body.trimEnd()}\n`;
      return [
        section(`meshguard ${ours.ifname} dump`, interop.rawDump(spec.nsOurs, ours.ifname)),
        section(`wireguard-go ${pair.theirs.ifname} dump`, interop.rawDump(spec.nsTheirs, pair.theirs.ifname)),
        section(`meshguard log ${ours.logPath}`, tail(ours.log())),
        section('wireguard-go output', tail(pair.theirs.process.output(), 3000)),
        ...[spec.nsOurs, spec.nsTheirs].map((ns) =>
          section(
            `${ns.name}: ip -s address; ip route`,
            tryRun([ip, '-n', ns.name, '-s', 'address']).stdout + tryRun([ip, '-n', ns.name, 'route']).stdout,
          ),
        ),
      ].join('');
    },
  };
  return pair;
}

export interface DirectPairOptions {
  /** Address family of the veth between the namespaces (the UDP underlay). Default 4. */
  readonly underlay?: 4 | 6;
  /** Whether our config names wireguard-go's endpoint. Default true. */
  readonly weKnowTheirEndpoint?: boolean;
  /** Whether wireguard-go is configured with our endpoint. Default true. */
  readonly theyKnowOurEndpoint?: boolean;
  readonly ourEnv?: Readonly<Record<string, string>>;
}

export interface DirectPair extends Pair {
  readonly link: VethPair;
  readonly underlay: (typeof UNDERLAY)['v4' | 'v6'];
}

/** Two namespaces joined by a veth, with our interface in one and wireguard-go in the other. */
export async function startDirectPair(interop: Interop, options: DirectPairOptions = {}): Promise<DirectPair> {
  const underlay = options.underlay === 6 ? UNDERLAY.v6 : UNDERLAY.v4;
  const nsOurs = interop.topology.namespace('mg');
  const nsTheirs = interop.topology.namespace('wggo');
  const cidrs: [string, string] = [`${underlay.ours}/${underlay.prefix}`, `${underlay.theirs}/${underlay.prefix}`];
  const link = interop.topology.veth(nsOurs, nsTheirs, options.underlay === 6 ? { ipv6: cidrs } : { ipv4: cidrs });
  const pair = await startPair(interop, {
    nsOurs,
    nsTheirs,
    ...(options.weKnowTheirEndpoint === false ? {} : { theirEndpoint: endpoint(underlay.theirs) }),
    ...(options.theyKnowOurEndpoint === false ? {} : { ourEndpoint: endpoint(underlay.ours) }),
    ...(options.ourEnv === undefined ? {} : { ourEnv: options.ourEnv }),
  });
  return Object.assign(pair, { link, underlay });
}

/** Compiled fixture scripts next to this file (agent/dist/test/wg/fixtures/<name>.js). */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
}
