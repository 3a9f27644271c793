import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { requireCapability } from '@meshguard/core/testing';
import {
  allAvailable,
  formatWgQuick,
  netnsAvailable,
  pingAvailable,
  readWgDump,
  requireBinary,
  startWireGuardGo,
  timedOut,
  Topology,
  tryRun,
  uniqueIfname,
  wgAvailable,
  WIREGUARD_SOCKET_DIR,
  wireguardGoAvailable,
  type Availability,
  type Namespace,
  type SpawnedProcess,
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
 * see (our detached daemons); `destroy()` takes our interfaces down with `meshguard wg down`
 * first, so a daemon that does not exit cleanly is reported instead of being silently SIGKILLed
 * with the namespace.
 */

/** Everything the interop tests need on the machine. */
export function interopAvailable(): Availability {
  return allAvailable(netnsAvailable(), wireguardGoAvailable(), wgAvailable(), pingAvailable());
}

/**
 * For a describe() body: registers an after() hook that destroys the suite's Interop, and returns
 * what each test calls first. That skips the test (undefined) where the machine cannot run
 * interop tests, and otherwise returns the suite's Interop, created on first use.
 */
export function interopSuite(): (t: TestContext) => Interop | undefined {
  let interop: Interop | undefined;
  after(() => interop?.destroy());
  return (t) => {
    const cap = interopAvailable();
    if (!requireCapability(t, cap.available, cap.reason)) return undefined;
    return (interop ??= new Interop());
  };
}

const CLI_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

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
  readonly #procs: SpawnedProcess[] = [];
  readonly #ours: MeshguardDevice[] = [];
  readonly #wg = requireBinary('wg');

  /** Starts argv inside `ns` (one of the Topology's) in the background; destroy() stops it. */
  spawn(ns: Namespace, argv: readonly string[], env: Readonly<Record<string, string>> = {}): SpawnedProcess {
    const proc = this.topology.spawn(ns, argv, { env });
    this.#procs.push(proc);
    return proc;
  }

  /** Runs argv inside `ns` to completion (killed after `timeoutMs`) without blocking the event loop. */
  async run(
    ns: Namespace,
    argv: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<SpawnedProcess> {
    const proc = this.spawn(ns, argv, options.env);
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (await timedOut(proc.exited, timeoutMs)) await proc.stop(1000);
    return proc;
  }

  /** `meshguard <args>` inside `ns`, with this Node. */
  meshguard(
    ns: Namespace,
    args: readonly string[],
    options: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
  ): Promise<SpawnedProcess> {
    return this.run(ns, [process.execPath, CLI_MAIN, ...args], options);
  }

  /** `meshguard wg up --config <file> --interface <unique name>` in `ns`; resolves once it answers. */
  async startMeshguard(ns: Namespace, options: MeshguardOptions): Promise<MeshguardDevice> {
    const ifname = uniqueIfname('mg');
    const socketPath = join(WIREGUARD_SOCKET_DIR, `${ifname}.sock`);
    const logPath = join(WIREGUARD_SOCKET_DIR, `${ifname}.log`);
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
  readonly proc: SpawnedProcess;
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
export function parsePing(proc: SpawnedProcess): PingResult {
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

/** Starts a ping in the background; parse its result with parsePing after `exited`. */
export function pingInBackground(
  interop: Interop,
  ns: Namespace,
  target: string,
  options: PingOptions = {},
): SpawnedProcess {
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

/** Asserts that all `count` pings from `ns` to `target` come back; `what` says when, for the message. */
export async function assertPings(pair: Pair, ns: Namespace, target: string, what: string, count = 3): Promise<void> {
  const r = await ping(pair.interop, ns, target, { count });
  assert.equal(
    r.received,
    count,
    `${what}: ping ${target} from ${ns.name}\n${r.proc.describe()}\n${pair.diagnostics()}`,
  );
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
type Tunnel = (typeof TUNNEL)['ours' | 'theirs'];
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
  // Each side: its TUNNEL addresses, and the other as its only peer, routed by the other's addresses.
  const side = (keys: WgKeyPairText, self: Tunnel, peerKeys: WgKeyPairText, peer: Tunnel, peerEndpoint?: string) => ({
    privateKey: keys.privateKey,
    listenPort: PORT,
    addresses: [`${self.v4}/24`, `${self.v6}/64`],
    peers: [
      {
        publicKey: peerKeys.publicKey,
        allowedIps: [`${peer.v4}/32`, `${peer.v6}/128`],
        ...(peerEndpoint === undefined ? {} : { endpoint: peerEndpoint }),
      },
    ],
  });
  const theirOptions: WireGuardGoOptions = side(theirKeys, TUNNEL.theirs, ourKeys, TUNNEL.ours, spec.ourEndpoint);
  const theirs = await startWireGuardGo(interop.topology, spec.nsTheirs, theirOptions);
  const ours = await interop.startMeshguard(spec.nsOurs, {
    ...side(ourKeys, TUNNEL.ours, theirKeys, TUNNEL.theirs, spec.theirEndpoint),
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
