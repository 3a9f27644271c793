import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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
  /** Settles when the process has exited (and been reaped). */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private outputTail = '';
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
    if (this.child.pid === undefined) throw new Error(`cannot start \`${argv.join(' ')}\``);
    this.pid = this.child.pid;
    const keep = (chunk: Buffer): void => {
      this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
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

  /** The last 64 KiB of stdout and stderr, interleaved as they arrived. */
  output(): string {
    return this.outputTail;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. Resolves once it has exited. */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (this.exitStatus !== undefined) return this.exitStatus;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first !== 'timeout') return first;
    this.child.kill('SIGKILL');
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

  private wakeLineWaiters(): void {
    for (const wake of this.lineWaiters.splice(0)) wake();
  }

  /** For the process 'exit' hook, where nothing asynchronous runs any more. */
  killNow(): void {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL');
  }
}
