import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireBinary } from './capabilities.js';
import type { SpawnedProcess } from './process.js';
import { uniqueIfname, type Namespace, type Topology } from './topology.js';
import { parseWgDump, type WgDump } from './wg-dump.js';

/**
 * wireguard-go (the Debian package) as an independent WireGuard peer in a namespace. Its UAPI
 * socket lives in /var/run/wireguard of the shared filesystem, not in the namespace, which is
 * one more reason the interface name has to be unique across concurrent test processes.
 */

export const WIREGUARD_SOCKET_DIR = '/var/run/wireguard';

export interface WgPeerSpec {
  /** Base64, as `wg pubkey` prints it. */
  readonly publicKey: string;
  /** CIDRs. */
  readonly allowedIps: readonly string[];
  /** `ip:port` or `[ipv6]:port`. */
  readonly endpoint?: string;
  readonly persistentKeepalive?: number;
  readonly presharedKey?: string;
}

export interface WireGuardGoOptions {
  /** Base64. */
  readonly privateKey: string;
  readonly listenPort: number;
  /** CIDRs for the tunnel interface; IPv6 ones are added with `nodad`. */
  readonly addresses?: readonly string[];
  /** Default: wireguard-go's own (1420). */
  readonly mtu?: number;
  readonly peers?: readonly WgPeerSpec[];
  /** How long to wait for the UAPI socket; default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface WireGuardGoDevice {
  readonly ns: Namespace;
  readonly ifname: string;
  readonly socketPath: string;
  readonly process: SpawnedProcess;
  /** Runs `wg <args>` in the device's namespace; returns stdout. */
  wg(args: readonly string[]): string;
  /** `wg show <ifname> dump`, parsed. */
  dump(): WgDump;
}

/**
 * Starts `wireguard-go -f <ifname>` in `ns`, waits for its UAPI socket, then configures it the
 * way wg-quick would: `wg setconf` for keys, port and peers, `ip` for addresses, MTU and link up.
 * The Topology stops it and removes its socket on destroy().
 */
export async function startWireGuardGo(
  topology: Topology,
  ns: Namespace,
  options: WireGuardGoOptions,
): Promise<WireGuardGoDevice> {
  const wireguardGo = requireBinary('wireguard-go');
  const wgBinary = requireBinary('wg');
  const ifname = uniqueIfname('wg');
  const socketPath = join(WIREGUARD_SOCKET_DIR, `${ifname}.sock`);
  if (existsSync(socketPath)) throw new Error(`${socketPath} already exists: another wireguard-go owns ${ifname}`);
  topology.removeOnDestroy(socketPath);
  // LOG_LEVEL=error keeps the per-packet debug chatter out of the captured output.
  const child = topology.spawn(ns, [wireguardGo, '-f', ifname], { env: { LOG_LEVEL: 'error' } });
  await waitForSocket(child, socketPath, options.startTimeoutMs ?? 10_000);

  const device: WireGuardGoDevice = {
    ns,
    ifname,
    socketPath,
    process: child,
    wg: (args) => topology.exec(ns, [wgBinary, ...args]),
    dump: () => readWgDump(topology, ns, ifname),
  };
  const configFile = join(topology.tempDir(), `${ifname}.conf`);
  writeFileSync(configFile, formatSetconf(options), { mode: 0o600 });
  device.wg(['setconf', ifname, configFile]);
  for (const cidr of options.addresses ?? []) topology.addAddress(ns, ifname, cidr);
  const mtu = options.mtu === undefined ? [] : ['mtu', String(options.mtu)];
  topology.ipIn(ns, ['link', 'set', 'dev', ifname, ...mtu, 'up']);
  return device;
}

/** `wg show <ifname> dump` in `ns`, parsed: for any WireGuard device, ours or wireguard-go's. */
export function readWgDump(topology: Topology, ns: Namespace, ifname: string): WgDump {
  return parseWgDump(topology.exec(ns, [requireBinary('wg'), 'show', ifname, 'dump']));
}

/** The `wg setconf` file format: wg-quick's without Address, MTU and the rest of wg-quick's keys. */
export function formatSetconf(options: Pick<WireGuardGoOptions, 'privateKey' | 'listenPort' | 'peers'>): string {
  return formatConfig(options, []);
}

/** The wg-quick file format with the keys `meshguard wg up` reads: setconf's plus Address and MTU. */
export function formatWgQuick(
  options: Pick<WireGuardGoOptions, 'privateKey' | 'listenPort' | 'addresses' | 'mtu' | 'peers'>,
): string {
  const interfaceLines: string[] = [];
  if (options.addresses !== undefined && options.addresses.length > 0) {
    interfaceLines.push(`Address = ${options.addresses.join(', ')}`);
  }
  if (options.mtu !== undefined) interfaceLines.push(`MTU = ${options.mtu}`);
  return formatConfig(options, interfaceLines);
}

function formatConfig(
  options: Pick<WireGuardGoOptions, 'privateKey' | 'listenPort' | 'peers'>,
  interfaceLines: readonly string[],
): string {
  const lines = ['[Interface]', `PrivateKey = ${options.privateKey}`, `ListenPort = ${options.listenPort}`];
  lines.push(...interfaceLines);
  for (const peer of options.peers ?? []) {
    lines.push('', '[Peer]', `PublicKey = ${peer.publicKey}`);
    if (peer.presharedKey !== undefined) lines.push(`PresharedKey = ${peer.presharedKey}`);
    if (peer.allowedIps.length > 0) lines.push(`AllowedIPs = ${peer.allowedIps.join(', ')}`);
    if (peer.endpoint !== undefined) lines.push(`Endpoint = ${peer.endpoint}`);
    if (peer.persistentKeepalive !== undefined) lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  }
  return `${lines.join('\n')}\n`;
}

async function waitForSocket(child: SpawnedProcess, socketPath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socketPath)) {
    if (child.hasExited) {
      throw new Error(`wireguard-go exited before creating ${socketPath}:\n${child.output()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`wireguard-go did not create ${socketPath} within ${timeoutMs} ms:\n${child.output()}`);
    }
    await sleep(20);
  }
}
