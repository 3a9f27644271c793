// What the test-tool builders (kube-binaries.js, helm-binary.js) share: where the cache is, how
// binaries are found, how a build command is run, and how killed builds are cleaned up.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import process from 'node:process';

/** CI=true (or any value but '', 'false', '0'): a failure to provide a tool exits non-zero. */
export function inCi() {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/** A stderr logger prefixed with the tool's name. */
export function logger(name) {
  return (message) => {
    process.stderr.write(`${name}: ${message}\n`);
  };
}

export function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

// A non-login shell (CI, cron) may lack /usr/local/go/bin or the sbin directories on PATH.
const EXTRA_DIRS = ['/usr/local/go/bin', '/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin'];

export function findExecutable(name) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isExecutable(path)) return path;
  }
  return null;
}

/** $MESHGUARD_TOOLS_CACHE, else $XDG_CACHE_HOME/meshguard-tools, else ~/.cache/meshguard-tools. */
export function cacheRoot() {
  const explicit = process.env.MESHGUARD_TOOLS_CACHE;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'meshguard-tools');
}

/** Runs a command to completion; returns stdout, or throws with the end of its stderr. */
export function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    const why = result.error?.message ?? `status ${String(result.status)}`;
    throw new Error(`\`${command} ${args.join(' ')}\` failed (${why}):\n${(result.stderr ?? '').slice(-8000)}`);
  }
  return result.stdout;
}

/**
 * The Go toolchain and a fresh work dir `<workPrefix>…` in the cache root, after removing killed
 * builds' leftovers (`<stalePrefix>*`). The work dir sits beside the final place so the last step
 * is a rename on one filesystem: a crash or a concurrent run never leaves a half-written bin dir
 * where the tests look.
 */
export function prepareGoBuild(stalePrefix, workPrefix) {
  const go = findExecutable('go');
  if (go === null) throw new Error('the Go toolchain (`go`) was not found on PATH or in /usr/local/go/bin');
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  removeStaleBuilds(root, stalePrefix);
  return { go, root, work: mkdtempSync(join(root, workPrefix)) };
}

/** Work dirs (`<prefix>*`) of builds that were killed (SIGKILL skips `finally`): gigabytes of build cache each. */
export function removeStaleBuilds(root, prefix) {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(root)) {
    if (!name.startsWith(prefix)) continue;
    const p = join(root, name);
    if (statSync(p).mtimeMs < dayAgo) rmSync(p, { recursive: true, force: true });
  }
}
