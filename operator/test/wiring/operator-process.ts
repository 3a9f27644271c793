import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { executable } from '../support/process.js';

// From operator/dist/test/wiring/ (compiled) to operator/dist/src/app/main.js.
const MAIN = fileURLToPath(new URL('../../src/app/main.js', import.meta.url));
// As in support/process.ts: an operator orphaned by a crashed test must not keep writing.
const SETPRIV = executable('/usr/bin/setpriv');

export interface OperatorProcessOptions {
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly leaderElect?: boolean;
  /** V8/Node flags before main.js, e.g. the heap limit a deployment sets. */
  readonly nodeFlags?: readonly string[];
}

/** The real operator binary (main.js, the registrations main.ts lists) as a child process. */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #log = '';
  #url: string | undefined;

  constructor(options: OperatorProcessOptions) {
    const argv = [
      process.execPath,
      ...(options.nodeFlags ?? []),
      MAIN,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--namespace=${options.namespace}`,
      '--metrics-address=127.0.0.1:0',
      `--leader-elect=${String(options.leaderElect ?? true)}`,
    ];
    const [file, ...args] = SETPRIV === null ? argv : [SETPRIV, '--pdeathsig', 'SIGKILL', '--', ...argv];
    if (file === undefined) throw new Error('empty command');
    this.child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      // Bounded: a long benchmark logs a line per failed reconcile.
      this.#log = (this.#log + text).slice(-256 * 1024);
      const m = /"msg":"http server listening","url":"([^"]+)"/.exec(text);
      if (m?.[1] !== undefined) this.#url = m[1];
    });
    this.exited = new Promise((resolve) => this.child.on('close', () => resolve()));
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('operator process did not start');
    return pid;
  }

  get log(): string {
    return this.#log;
  }

  get url(): string | undefined {
    return this.#url;
  }

  /** VmHWM of the operator's node process (not setpriv's, which execs into it and keeps the pid). */
  peakRssBytes(): number | undefined {
    try {
      const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${String(this.pid)}/status`, 'utf8'));
      return m?.[1] === undefined ? undefined : Number(m[1]) * 1024;
    } catch {
      return undefined;
    }
  }

  async metrics(): Promise<string> {
    if (this.#url === undefined) throw new Error('operator HTTP server not up yet');
    return (await fetch(`${this.#url}/metrics`)).text();
  }

  /** A crash: no drain, no lease release. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
