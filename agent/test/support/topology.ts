import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './capabilities.js';
import { run, SpawnedProcess, tryRun, type RunOptions } from './process.js';

/**
 * Network-namespace fixtures that clean up after themselves. Test files run in parallel
 * processes, so every name carries this process's pid and a counter; a Topology records what it
 * creates and `destroy()` removes all of it, from an `after` hook, even when the test failed.
 */

/** Linux IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_IFNAME_LENGTH = 15;

let counter = 0;

/**
 * `<prefix><pid base 36>-<counter base 36>`: unique among concurrent processes (pids are) and
 * within one (the counter is). Base 36 keeps the longest pid (4194304 → `2hwmo`) short enough
 * for a 3-character prefix, a 3-digit counter and a 1-character suffix within 15 characters.
 */
export function uniqueIfname(prefix: string): string {
  if (!/^[a-z]{1,3}$/.test(prefix)) throw new Error(`interface prefix must be 1–3 letters: "${prefix}"`);
  counter += 1;
  const name = `${prefix}${process.pid.toString(36)}-${counter.toString(36)}`;
  if (name.length > MAX_IFNAME_LENGTH - 1) throw new Error(`interface name "${name}" would be too long`);
  return name;
}

/** Namespace names have no kernel length limit; the label makes `ip netns list` readable. */
export function uniqueNamespaceName(label: string): string {
  if (!/^[a-z0-9]{1,16}$/.test(label)) throw new Error(`namespace label must be 1–16 of [a-z0-9]: "${label}"`);
  counter += 1;
  return `mgt-${process.pid}-${counter}-${label}`;
}

export interface Namespace {
  readonly name: string;
  readonly label: string;
}

export interface VethEnd {
  readonly ns: Namespace;
  readonly ifname: string;
  /** CIDR, e.g. 192.0.2.1/24, as given. */
  readonly ipv4: string | null;
  readonly ipv6: string | null;
}

export interface VethPair {
  readonly a: VethEnd;
  readonly b: VethEnd;
}

export interface VethOptions {
  /** Addresses of the a and b ends. */
  readonly ipv4?: readonly [string, string];
  /** Added with `nodad`, so they are usable at once rather than after duplicate detection. */
  readonly ipv6?: readonly [string, string];
  readonly mtu?: number;
}

export interface SpawnOptions {
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** See SpawnedProcessOptions. */
  readonly stdin?: boolean;
  readonly lines?: boolean;
}

/** Every live Topology, so a crashing test process still tears its namespaces down. */
const live = new Set<Topology>();
let exitHookInstalled = false;

export class Topology {
  private readonly namespaces: Namespace[] = [];
  private readonly processes: SpawnedProcess[] = [];
  private readonly tempDirs: string[] = [];
  /** Files a killed daemon may leave behind, e.g. a wireguard-go UAPI socket. */
  private readonly leftoverFiles: string[] = [];
  private destroying: Promise<void> | undefined;
  private readonly ip = requireBinary('ip');

  constructor() {
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const topology of live) topology.destroySync();
      });
    }
  }

  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  /** The namespaces created so far, for assertions that destroy() removed them. */
  namespaceNames(): readonly string[] {
    return this.namespaces.map((n) => n.name);
  }

  /** The background processes started so far, for assertions that destroy() ended them. */
  spawnedProcesses(): readonly SpawnedProcess[] {
    return [...this.processes];
  }

  /** A new namespace with its loopback up. */
  namespace(label: string): Namespace {
    this.assertUsable();
    const ns = { name: uniqueNamespaceName(label), label };
    run([this.ip, 'netns', 'add', ns.name]);
    this.namespaces.push(ns);
    this.ipIn(ns, ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** A veth pair from `a` to `b`, addressed and up. Created in place, never in the root namespace. */
  veth(a: Namespace, b: Namespace, options: VethOptions = {}): VethPair {
    this.assertUsable();
    const nameA = `${uniqueIfname('ve')}a`;
    const nameB = `${nameA.slice(0, -1)}b`;
    run([this.ip, 'link', 'add', nameA, 'netns', a.name, 'type', 'veth', 'peer', 'name', nameB, 'netns', b.name]);
    const ends: [VethEnd, VethEnd] = [
      { ns: a, ifname: nameA, ipv4: options.ipv4?.[0] ?? null, ipv6: options.ipv6?.[0] ?? null },
      { ns: b, ifname: nameB, ipv4: options.ipv4?.[1] ?? null, ipv6: options.ipv6?.[1] ?? null },
    ];
    for (const end of ends) {
      if (end.ipv4 !== null) this.addAddress(end.ns, end.ifname, end.ipv4);
      if (end.ipv6 !== null) this.addAddress(end.ns, end.ifname, end.ipv6);
      const mtu = options.mtu === undefined ? [] : ['mtu', String(options.mtu)];
      this.ipIn(end.ns, ['link', 'set', 'dev', end.ifname, ...mtu, 'up']);
    }
    return { a: ends[0], b: ends[1] };
  }

  /** `ip addr add`; IPv6 addresses get `nodad` so they are usable at once. */
  addAddress(ns: Namespace, ifname: string, cidr: string): void {
    const nodad = cidr.includes(':') ? ['nodad'] : [];
    this.ipIn(ns, ['address', 'add', cidr, 'dev', ifname, ...nodad]);
  }

  /** `ip -n <ns> <args>`; returns stdout. */
  ipIn(ns: Namespace, args: readonly string[], options: RunOptions = {}): string {
    return run([this.ip, '-n', ns.name, ...args], options);
  }

  /** Runs argv inside `ns` to completion and returns stdout; throws on a non-zero status. */
  exec(ns: Namespace, argv: readonly string[], options: RunOptions = {}): string {
    return run(this.inNamespace(ns, argv), options);
  }

  /** Like exec, returning the status instead of throwing. */
  tryExec(ns: Namespace, argv: readonly string[], options: RunOptions = {}): ReturnType<typeof tryRun> {
    return tryRun(this.inNamespace(ns, argv), options);
  }

  /**
   * Starts argv in the background inside `ns`. `ip netns exec` execs the command in place, so
   * the pid is the command's own and stopping it stops the command.
   */
  spawn(ns: Namespace, argv: readonly string[], options: SpawnOptions = {}): SpawnedProcess {
    this.assertUsable();
    const child = new SpawnedProcess(this.inNamespace(ns, argv), {
      env: { ...process.env, ...options.env },
      ...(options.stdin !== undefined && { stdin: options.stdin }),
      ...(options.lines !== undefined && { lines: options.lines }),
    });
    this.processes.push(child);
    return child;
  }

  /** A private temporary directory, removed by destroy(). */
  tempDir(): string {
    this.assertUsable();
    const dir = mkdtempSync(join(tmpdir(), `mgt-${process.pid}-`));
    this.tempDirs.push(dir);
    return dir;
  }

  /** A path destroy() deletes if it still exists once every process has stopped. */
  removeOnDestroy(path: string): void {
    this.leftoverFiles.push(path);
  }

  /**
   * Stops every process (SIGTERM, then SIGKILL), then anything else still running in our
   * namespaces, deletes the namespaces (and with them every interface in them), leftover
   * files and temp dirs. Idempotent; a second call waits for the first. Every step is tried
   * even when an earlier one fails; the failures are thrown together at the end.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(this.processes.map((p) => p.stop().catch((err: unknown) => errors.push(err))));
    for (const ns of this.namespaces) {
      try {
        this.killStragglers(ns);
      } catch (err) {
        errors.push(err);
      }
    }
    this.removeResources(errors);
    live.delete(this);
    if (errors.length > 0) throw new AggregateError(errors, 'Topology.destroy() did not remove everything');
  }

  /** The exit-hook path: no waiting is possible, so SIGKILL and delete. */
  private destroySync(): void {
    if (!live.has(this)) return;
    this.destroying ??= Promise.resolve();
    for (const p of this.processes) p.killNow();
    for (const ns of this.namespaces) {
      try {
        this.killStragglers(ns);
      } catch {
        // best effort while exiting
      }
    }
    this.removeResources([]);
    live.delete(this);
  }

  /**
   * Processes we did not track (a command that daemonized) would keep a deleted namespace
   * alive. Everything inside one of our uniquely named namespaces was started by this test.
   */
  private killStragglers(ns: Namespace): void {
    const pids = tryRun([this.ip, 'netns', 'pids', ns.name])
      .stdout.split(/\s+/)
      .filter((s) => /^[0-9]+$/.test(s));
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private removeResources(errors: unknown[]): void {
    for (const ns of this.namespaces) {
      const result = tryRun([this.ip, 'netns', 'del', ns.name]);
      if (result.status !== 0 && existsSync(`/var/run/netns/${ns.name}`)) {
        errors.push(new Error(`ip netns del ${ns.name}: ${result.stderr.trim()}`));
      }
    }
    for (const path of [...this.leftoverFiles, ...this.tempDirs]) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch (err) {
        errors.push(err);
      }
    }
  }

  private inNamespace(ns: Namespace, argv: readonly string[]): string[] {
    if (!this.namespaces.includes(ns)) throw new Error(`namespace ${ns.name} does not belong to this topology`);
    return [this.ip, 'netns', 'exec', ns.name, ...argv];
  }

  private assertUsable(): void {
    if (this.destroying !== undefined) throw new Error('Topology already destroyed');
  }
}
