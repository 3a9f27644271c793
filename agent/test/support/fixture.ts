import { fileURLToPath } from 'node:url';
import type { SpawnedProcess } from './process.js';
import type { Namespace, Topology } from './topology.js';

/**
 * A compiled Node script run inside a namespace, for code that must own a namespace's devices
 * (a TUN) while the test drives traffic from outside. It reports JSON lines on stdout and
 * finishes when its stdin closes, so it also ends if the test process dies.
 */
export class Fixture {
  constructor(readonly child: SpawnedProcess) {}

  /** The next JSON report; rejects with the fixture's output if it ends or stalls first. */
  async next(timeoutMs?: number): Promise<unknown> {
    return JSON.parse(await this.child.nextLine(timeoutMs)) as unknown;
  }

  /** Closes the fixture's stdin (its signal to finish) and returns its last report once it exits 0. */
  async finish(): Promise<unknown> {
    this.child.closeStdin();
    const report = await this.next();
    const { code, signal } = await this.child.exited;
    if (code !== 0) {
      throw new Error(`fixture exited with ${String(code ?? signal)}; output:\n${this.child.output()}`);
    }
    return report;
  }
}

export interface FixtureOptions {
  /** argv put before `node script`, e.g. setpriv to drop capabilities. */
  readonly wrapper?: readonly string[];
}

/** Starts `script` with this Node in `ns`; the Topology stops it on destroy(). */
export function startFixture(
  topology: Topology,
  ns: Namespace,
  script: URL,
  args: readonly string[],
  options: FixtureOptions = {},
): Fixture {
  const argv = [...(options.wrapper ?? []), process.execPath, fileURLToPath(script), ...args];
  return new Fixture(topology.spawn(ns, argv, { stdin: true, lines: true }));
}
