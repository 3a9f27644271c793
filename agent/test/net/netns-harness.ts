import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never rejects, the exit code says how it went. */
export function run(command: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fixture process (agent/test/net/fixtures/<name>.js) that reports JSON lines on stdout. */
export class FixtureProcess {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #exited: Promise<number | null>;
  #stderr = '';

  constructor(command: string, args: readonly string[]) {
    this.#child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      this.#lines.push(line);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.#exited = new Promise((resolve) => {
      this.#child.on('exit', (code) => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve(code);
      });
    });
  }

  /** The next JSON report; rejects with the fixture's stderr if it exits first or takes too long. */
  async next(timeoutMs = 20_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null || Date.now() > deadline) {
        throw new Error(`fixture ended or timed out without a report; stderr:\n${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return JSON.parse(this.#lines.shift()!) as unknown;
  }

  /** Closes the fixture's stdin (its signal to finish) and returns its last report. */
  async finish(): Promise<unknown> {
    this.#child.stdin!.end();
    const report = await this.next();
    const code = await this.#exited;
    if (code !== 0) throw new Error(`fixture exited with ${code}; stderr:\n${this.#stderr}`);
    return report;
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}

/**
 * Network namespaces for one test process. Names carry the pid, since test files run in
 * parallel processes; `cleanup()` removes every namespace and fixture, whatever happened.
 */
export class NetnsHarness {
  readonly #namespaces: string[] = [];
  readonly #fixtures: FixtureProcess[] = [];
  #sequence = 0;

  /** A short unique token (pid + sequence) for interface names, which the kernel limits to 15 bytes. */
  uniqueTag(): string {
    this.#sequence++;
    return `${process.pid.toString(36)}${this.#sequence.toString(36)}`;
  }

  async create(): Promise<string> {
    const ns = `mgtun-${process.pid}-${++this.#sequence}`;
    const added = await run('ip', ['netns', 'add', ns]);
    if (added.code !== 0) throw new Error(`ip netns add ${ns}: ${added.stderr}`);
    this.#namespaces.push(ns);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  exec(ns: string, command: string, args: readonly string[], timeoutMs?: number): Promise<CommandResult> {
    return run('ip', ['netns', 'exec', ns, command, ...args], timeoutMs);
  }

  /** Starts a compiled fixture with this Node inside `ns`, optionally behind a wrapper such as setpriv. */
  fixture(ns: string, name: string, args: readonly string[], wrapper: readonly string[] = []): FixtureProcess {
    const script = fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
    const child = new FixtureProcess('ip', ['netns', 'exec', ns, ...wrapper, process.execPath, script, ...args]);
    this.#fixtures.push(child);
    return child;
  }

  async cleanup(): Promise<void> {
    for (const f of this.#fixtures.splice(0)) f.kill();
    for (const ns of this.#namespaces.splice(0)) await run('ip', ['netns', 'del', ns]);
  }
}
