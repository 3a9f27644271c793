import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ServerProcess } from '../support/process.js';
import type { KubeCluster } from '../support/kube-cluster.js';

/**
 * Restarts a KubeCluster's kube-apiserver with the same command line: the real event behind the
 * pitfall "re-list on 410", since the new server's watch cache starts at the current revision
 * and answers a watch from any older resourceVersion with 410 Gone.
 *
 * KubeCluster has no restart of its own (and this task may not change it), so the server is
 * found through /proc by its certificate path inside the cluster's directory, stopped, and
 * started again as a process of this module. Call stop() on the returned handle before the
 * cluster's own stop(), which only knows the original process.
 */
export class RestartedApiServer {
  readonly #process: ServerProcess;

  private constructor(process: ServerProcess) {
    this.#process = process;
  }

  static async restart(cluster: KubeCluster): Promise<RestartedApiServer> {
    const found = findApiServer(cluster.dir);
    if (found === null) throw new Error(`no kube-apiserver process found for ${cluster.dir}`);
    // Killed as in a crash: a graceful kube-apiserver shutdown can take over 15 s once custom
    // resources are served, and the client-side effect (connections reset, then a new watch
    // cache) is the same.
    process.kill(found.pid, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    while (processRunning(found.pid)) {
      if (Date.now() > deadline) throw new Error(`kube-apiserver ${String(found.pid)} did not exit`);
      await sleep(20);
    }
    const server = new ServerProcess('kube-apiserver (restarted)', found.argv);
    const handle = new RestartedApiServer(server);
    const ready = Date.now() + 60_000;
    for (;;) {
      if (server.hasExited) throw new Error(`restarted kube-apiserver exited\n${server.describe()}`);
      try {
        if ((await cluster.request('GET', '/readyz')).status === 200) return handle;
      } catch {
        // not listening yet
      }
      if (Date.now() > ready) {
        await server.stop();
        throw new Error(`restarted kube-apiserver not ready in 60 s\n${server.describe()}`);
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.#process.stop();
  }
}

function findApiServer(clusterDir: string): { readonly pid: number; readonly argv: string[] } | null {
  const certFlag = `--tls-cert-file=${join(clusterDir, 'server.crt')}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').slice(0, -1);
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    if (argv.includes(certFlag) && argv.some((a) => a.startsWith('--etcd-servers='))) {
      return { pid: Number(entry), argv };
    }
  }
  return null;
}

/** A zombie (exited, not yet reaped) counts as gone. */
function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
