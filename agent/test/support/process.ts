import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

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

/** A background process with its output kept for diagnostics. */
export class SpawnedProcess {
  readonly argv: readonly string[];
  readonly pid: number;
  /** Settles when the process has exited (and been reaped). */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private outputTail = '';
  private exitStatus: ExitStatus | undefined;

  constructor(argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error('empty command');
    this.argv = argv;
    this.child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`cannot start \`${argv.join(' ')}\``);
    this.pid = this.child.pid;
    const keep = (chunk: Buffer): void => {
      this.outputTail = (this.outputTail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
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

  /** For the process 'exit' hook, where nothing asynchronous runs any more. */
  killNow(): void {
    if (this.exitStatus === undefined) this.child.kill('SIGKILL');
  }
}
