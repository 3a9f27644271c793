import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Child processes for the namespace tests: synchronous commands that always end (a timeout
 * kills them) and background processes that the Topology stops in `destroy()`.
 */

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
  /** Default 15 s: a hung `ip` or `wg` must fail the test, not stall the suite. */
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** Enough of a background process's output to explain a failure, bounded for chatty daemons. */
const OUTPUT_TAIL_CHARS = 64 * 1024;
/** Each stream kept separately, for processes whose whole stdout is their result (ping, fixtures). */
const STREAM_TAIL_CHARS = 256 * 1024;

/** Runs argv to completion and returns what happened, whatever the exit status. */
export function tryRun(argv: readonly string[], options: RunOptions = {}): RunResult {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const result = spawnSync(file, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    ...(options.input !== undefined && { input: options.input }),
  });
  const stderr = result.error === undefined ? result.stderr : `${result.stderr}${result.error.message}`;
  return { status: result.status, stdout: result.stdout, stderr };
}

/** Runs argv and returns its stdout; throws with the command, status and stderr if it fails. */
export function run(argv: readonly string[], options: RunOptions = {}): string {
  const result = tryRun(argv, options);
  if (result.status !== 0) {
    throw new Error(`\`${argv.join(' ')}\` failed (status ${String(result.status)}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/**
 * Whether `promise` is still pending after `ms`. The timer is cleared as soon as it settles: a
 * pending 30 s timer would keep the test process alive long after its tests are done.
 */
export async function timedOut(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), ms);
  });
  try {
    return await Promise.race([promise.then(() => false), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnedProcessOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Give the process a stdin pipe, for one that runs until closeStdin(); otherwise stdin is /dev/null. */
  readonly stdin?: boolean;
  /** Queue whole stdout lines for nextLine(), for a process that reports on stdout. */
  readonly lines?: boolean;
}

/** A background process with its output kept for diagnostics. */
export class SpawnedProcess {
  readonly argv: readonly string[];
  readonly pid: number;
  /** Settles when the process has exited (and been reaped) and its stdout and stderr have closed. */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private outputTail = '';
  private stdoutTail = '';
  private stderrTail = '';
  private exitStatus: ExitStatus | undefined;
  private readonly lines: string[] = [];
  private readonly lineWaiters: (() => void)[] = [];
  /** Set once stdout has ended: after that no line can arrive, whenever the exit was seen. */
  private stdoutEnded = false;

  constructor(argv: readonly string[], options: SpawnedProcessOptions = {}) {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    this.argv = argv;
    this.child = spawn(file, args, {
      env: options.env ?? process.env,
      stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    // An unhandled 'error' (a failed spawn or kill) would crash the test process; keep it as output.
    this.child.on('error', (err) => this.keep('stderr', `\n${err.message}\n`));
    if (this.child.pid === undefined) throw new Error(`cannot start \`${argv.join(' ')}\``);
    this.pid = this.child.pid;
    this.child.stdout?.on('data', (chunk: Buffer) => this.keep('stdout', chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => this.keep('stderr', chunk.toString('utf8')));
    if (options.lines === true && this.child.stdout !== null) {
      createInterface({ input: this.child.stdout })
        .on('line', (line) => {
          this.lines.push(line);
          this.wakeLineWaiters();
        })
        .on('close', () => {
          this.stdoutEnded = true;
          this.wakeLineWaiters();
        });
    }
    // A fixture that exits early closes its end; writing to it must not crash the test process.
    this.child.stdin?.on('error', () => undefined);
    // 'close', not 'exit': only then has the last of stdout arrived (ping prints its summary last).
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  get hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  /** How the process ended, once `exited` has settled. */
  get finished(): ExitStatus | undefined {
    return this.exitStatus;
  }

  /** The last 64 KiB of stdout and stderr, interleaved as they arrived. */
  output(): string {
    return this.outputTail;
  }

  /** The last 256 KiB of stdout alone. */
  get stdout(): string {
    return this.stdoutTail;
  }

  /** The last 256 KiB of stderr alone. */
  get stderr(): string {
    return this.stderrTail;
  }

  /** The command, its status and both streams, labelled, for assertion messages. */
  describe(): string {
    const status = this.exitStatus === undefined ? 'running' : JSON.stringify(this.exitStatus);
    return `\`${this.argv.join(' ')}\` (${status})\n--- stdout\n${this.stdoutTail}--- stderr\n${this.stderrTail}---`;
  }

  /** Every stdout line that is a JSON object: how our fixtures report. */
  reports(): Record<string, unknown>[] {
    return this.stdoutTail
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /** The first report satisfying `accept`; fails with the process's output if it ends or times out first. */
  async waitForReport(
    accept: (report: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.reports().find(accept);
      if (found !== undefined) return found;
      if (this.exitStatus !== undefined) {
        throw new Error(`process ended without the expected report: ${this.describe()}`);
      }
      if (Date.now() > deadline) throw new Error(`no expected report within ${timeoutMs} ms: ${this.describe()}`);
      await sleep(50);
    }
  }

  /** Sends `signal` unless the process has already exited. */
  signal(signal: NodeJS.Signals): void {
    if (this.exitStatus === undefined) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return this.exitStatus;
    this.child.kill('SIGTERM');
    if (await timedOut(this.exited, graceMs)) this.child.kill('SIGKILL');
    return this.exited;
  }

  /**
   * The next line the process wrote to stdout (started with `lines`). Rejects, quoting the
   * output, when stdout ends without one or none comes within `timeoutMs`.
   */
  async nextLine(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      const remaining = deadline - Date.now();
      if (this.stdoutEnded || remaining <= 0) {
        const why = this.stdoutEnded ? 'ended its output' : `wrote nothing for ${timeoutMs} ms`;
        throw new Error(`\`${this.argv.join(' ')}\` ${why} before the next line; output:\n${this.outputTail}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.lineWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Ends the process's stdin (started with `stdin`): EOF is how a fixture is told to finish. */
  closeStdin(): void {
    this.child.stdin?.end();
  }

  private keep(stream: 'stdout' | 'stderr', text: string): void {
    this.outputTail = (this.outputTail + text).slice(-OUTPUT_TAIL_CHARS);
    if (stream === 'stdout') this.stdoutTail = (this.stdoutTail + text).slice(-STREAM_TAIL_CHARS);
    else this.stderrTail = (this.stderrTail + text).slice(-STREAM_TAIL_CHARS);
  }

  private wakeLineWaiters(): void {
    for (const wake of this.lineWaiters.splice(0)) wake();
  }

  /** For the process 'exit' hook, where nothing asynchronous runs any more. */
  killNow(): void {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL');
  }
}
