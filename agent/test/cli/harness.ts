import { mkdtempSync, rmSync } from 'node:fs';
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
      const code = runCli(argv, ctx);
      // Only the long-running `wg` commands are asynchronous; the harness drives the others.
      if (typeof code !== 'number') throw new Error(`meshguard ${argv.join(' ')} is asynchronous`);
      return { code, out, err };
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

export { snapshotTree } from '@meshguard/core/testing';
