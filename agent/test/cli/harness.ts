import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/cli.js';
import type { CliContext } from '../../src/cli/context.js';

export interface CliResult {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

export interface CliHarness {
  readonly dir: string;
  now: bigint;
  stdin: Uint8Array;
  run(...argv: string[]): CliResult;
  /** Runs a command that must succeed and returns its output. */
  ok(...argv: string[]): string[];
  cleanup(): void;
}

export function makeHarness(prefix = 'meshguard-cli-'): CliHarness {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const dir = join(root, 'config');
  const h: CliHarness = {
    dir,
    now: 1_800_000_000n,
    stdin: new Uint8Array(),
    run(...argv) {
      const out: string[] = [];
      const err: string[] = [];
      const ctx: CliContext = {
        configDir: dir,
        out: (l) => out.push(l),
        err: (l) => err.push(l),
        now: () => h.now,
        readStdin: () => h.stdin,
      };
      return { code: runCli(argv, ctx), out, err };
    },
    ok(...argv) {
      const r = h.run(...argv);
      if (r.code !== 0) throw new Error(`meshguard ${argv.join(' ')} failed (${r.code}): ${r.err.join('\n')}`);
      return r.out;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  return h;
}

/** Every path under `dir` with its mode and content, to prove a refused command changed nothing. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const r = join(rel, e.name);
      const mode = (lstatSync(p).mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out.set(`${r}/`, mode);
        walk(p, r);
      } else {
        out.set(r, `${mode}:${readFileSync(p).toString('hex')}`);
      }
    }
  };
  walk(dir, '');
  return out;
}
