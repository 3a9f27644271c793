import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isRoot } from '@meshguard/core/testing';
import { TUN_ADDON_PATH } from '../../src/net/tun-binding.js';

/** What requireCapability needs: whether a test can run here, and if not, why. */
export interface Availability {
  readonly available: boolean;
  readonly reason: string;
}

// sbin directories are searched too: `ip` lives there and a non-login root shell may lack them.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable on PATH (or in the usual system directories), or null. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here; try the next directory
    }
  }
  return null;
}

/** Like findBinary, for code that has already checked availability. */
export function requireBinary(name: string): string {
  const path = findBinary(name);
  if (path === null) throw new Error(`${name} not found on PATH`);
  return path;
}

const ok = (what: string): Availability => ({ available: true, reason: `${what} available` });
const missing = (reason: string): Availability => ({ available: false, reason });

export function rootAvailable(): Availability {
  return isRoot() ? ok('root') : missing('needs root (network namespaces and TUN devices)');
}

/** Debian package for each binary the namespace tests run, for the skip message. */
const PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  'wireguard-go': 'wireguard-go',
  wg: 'wireguard-tools',
  iperf3: 'iperf3',
  ping: 'iputils-ping',
  setpriv: 'util-linux',
};

export function binaryAvailable(name: string): Availability {
  if (findBinary(name) !== null) return ok(name);
  const pkg = PACKAGES[name];
  return missing(`${name} not found on PATH${pkg === undefined ? '' : ` (Debian package ${pkg})`}`);
}

let netnsProbe: Availability | undefined;

/** Root, iproute2, and a namespace that can really be created and deleted (containers may forbid it). */
export function netnsAvailable(): Availability {
  if (netnsProbe !== undefined) return netnsProbe;
  const root = rootAvailable();
  if (!root.available) return (netnsProbe = root);
  const ip = findBinary('ip');
  if (ip === null) return (netnsProbe = binaryAvailable('ip'));
  const name = `mgt-probe-${process.pid}`;
  const add = spawnSync(ip, ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (add.status !== 0) {
    return (netnsProbe = missing(`cannot create a network namespace: ${(add.stderr || String(add.error)).trim()}`));
  }
  spawnSync(ip, ['netns', 'del', name], { timeout: 10_000 });
  return (netnsProbe = ok('network namespaces'));
}

export function tunAvailable(): Availability {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return ok('/dev/net/tun');
  } catch {
    return missing('/dev/net/tun is missing or not accessible');
  }
}

/** meshguard's own TUN addon, which only builds on Linux. */
export function tunAddonAvailable(): Availability {
  if (process.platform !== 'linux') return missing(`the TUN addon is Linux-only, this is ${process.platform}`);
  if (!existsSync(TUN_ADDON_PATH)) return missing('the TUN addon is not built (npm run build:native)');
  return ok('the TUN addon');
}

export function wireguardGoAvailable(): Availability {
  return allAvailable(binaryAvailable('wireguard-go'), tunAvailable());
}

export const wgAvailable = (): Availability => binaryAvailable('wg');
export const iperf3Available = (): Availability => binaryAvailable('iperf3');
export const pingAvailable = (): Availability => binaryAvailable('ping');
export const setprivAvailable = (): Availability => binaryAvailable('setpriv');

/** Available when every check is; otherwise every reason that is missing, joined. */
export function allAvailable(...checks: readonly Availability[]): Availability {
  const failed = checks.filter((c) => !c.available);
  if (failed.length === 0) return ok(checks.map((c) => c.reason.replace(/ available$/, '')).join(', '));
  return missing(failed.map((c) => c.reason).join('; '));
}
