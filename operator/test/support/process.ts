import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Enough of a server's log to explain why it did not come up, bounded for chatty servers. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

/** The absolute path if `path` is an executable file, else null. */
export function executable(path: string): string | null {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return null;
  }
}

// With --pdeathsig the kernel kills the server if the test process dies without running its
// cleanup (a runner timeout, SIGKILL): an orphaned kube-apiserver would hold two cores' worth of
// CPU and its ports for every later run on a small CI machine.
const SETPRIV = executable('/usr/bin/setpriv');

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A long-running server process whose output is kept for error messages. */
export class ServerProcess {
  readonly name: string;
  readonly argv: readonly string[];
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private tail = '';
  private status: ExitStatus | undefined;

  constructor(name: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    const [file, ...args] = SETPRIV === null ? argv : [SETPRIV, '--pdeathsig', 'SIGKILL', '--', ...argv];
    if (file === undefined) throw new Error('empty command');
    this.name = name;
    this.argv = argv;
    this.child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // An unhandled 'error' (failed spawn) would crash the test process; keep it as output instead.
    this.child.on('error', (err) => this.keep(`\n${err.message}\n`));
    this.child.stdout?.on('data', (chunk: Buffer) => this.keep(chunk.toString('utf8')));
    this.child.stderr?.on('data', (chunk: Buffer) => this.keep(chunk.toString('utf8')));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
      });
    });
  }

  get hasExited(): boolean {
    return this.status !== undefined;
  }

  output(): string {
    return this.tail;
  }

  /** Name, command, status and the output tail, for an error message. */
  describe(): string {
    const status = this.status === undefined ? 'running' : JSON.stringify(this.status);
    return `${this.name} (${status}): \`${this.argv.join(' ')}\`\n--- output (tail)\n${this.tail}\n---`;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process has exited. */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (this.status !== undefined) return this.status;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    try {
      await Promise.race([this.exited, killed]);
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For the process 'exit' hook, where nothing asynchronous runs any more. */
  killNow(): void {
    if (this.status === undefined) this.child.kill('SIGKILL');
  }

  private keep(text: string): void {
    this.tail = (this.tail + text).slice(-OUTPUT_TAIL_CHARS);
  }
}

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`) and returns what happened, whatever its status. */
export function runCommand(argv: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        const why = error !== null && code === null ? `\n${error.message}` : '';
        resolve({ code, stdout, stderr: stderr + why });
      },
    );
  });
}
