import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigPaths, loadTrust, ServicePaths, type LoadedTrust } from '@meshguard/core';

/** Every path whose change can change a trust or service-policy decision (spec §1.2, §12.1). */
const WATCHED_DIRS = [
  ConfigPaths.authorizedKeys,
  ConfigPaths.trustedOrgs,
  ConfigPaths.revoked,
  ConfigPaths.vouched,
  ConfigPaths.services,
  ServicePaths.peers,
  ServicePaths.orgs,
];
const WATCHED_FILES = [ConfigPaths.nodeCert, ConfigPaths.identityPub];
/** Four looks a second: a revocation dropped into revoked/ takes effect well within 1 s. */
const DEFAULT_INTERVAL_MS = 250;

function fingerprint(configDir: string): string {
  const parts: string[] = [];
  const stamp = (path: string): void => {
    try {
      const s = statSync(path);
      parts.push(`${path}:${s.size}:${s.mtimeMs}:${s.ino}`);
    } catch {
      parts.push(`${path}:-`);
    }
  };
  for (const dir of WATCHED_DIRS) {
    const full = join(configDir, dir);
    let names: string[];
    try {
      names = readdirSync(full).sort();
    } catch {
      names = [];
    }
    for (const name of names) stamp(join(full, name));
    parts.push(`${dir}/`);
  }
  for (const file of WATCHED_FILES) stamp(join(configDir, file));
  return parts.join('|');
}

export interface TrustWatcherOptions {
  readonly now: () => bigint;
  readonly open: boolean;
  readonly intervalMs?: number;
}

/**
 * Reloads the trust store whenever a file under the config dir that trust depends on changes,
 * so `meshguard trust`, `revoke`, or a revocation file copied into revoked/ take effect
 * without a restart. Polling a handful of stat() calls is cheaper and more dependable than
 * fs.watch across editors, atomic renames and bind mounts.
 */
export class TrustWatcher {
  readonly #configDir: string;
  readonly #options: TrustWatcherOptions;
  readonly #onChange: (loaded: LoadedTrust) => void;
  #fingerprint: string;
  #current: LoadedTrust;
  #timer: NodeJS.Timeout | null = null;

  constructor(configDir: string, options: TrustWatcherOptions, onChange: (loaded: LoadedTrust) => void) {
    this.#configDir = configDir;
    this.#options = options;
    this.#onChange = onChange;
    this.#fingerprint = fingerprint(configDir);
    this.#current = loadTrust(configDir, { now: options.now(), open: options.open });
  }

  get current(): LoadedTrust {
    return this.#current;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.check();
    }, this.#options.intervalMs ?? DEFAULT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Reloads if anything changed; returns whether it did. */
  check(): boolean {
    const next = fingerprint(this.#configDir);
    if (next === this.#fingerprint) return false;
    this.#fingerprint = next;
    this.#current = loadTrust(this.#configDir, { now: this.#options.now(), open: this.#options.open });
    this.#onChange(this.#current);
    return true;
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
