import { errorMessage } from '@meshguard/core';
import { MERGE_PATCH, meshResourcePath, MESH_NODE_NAMES, type KubeClient } from '@meshguard/core/kube';

export interface StatusReporterOptions {
  readonly client: Pick<KubeClient, 'request'>;
  readonly nodeName: string;
  /** The endpoint to report, read at each report (null: nothing to report yet). */
  readonly endpoint: () => string | null;
  /** Heartbeat period; lastSeen is written at most this often when nothing else changes. */
  readonly intervalMs?: number;
  /** The least time between two writes, even when the endpoint changes. */
  readonly minIntervalMs?: number;
  readonly log: (line: string) => void;
}

/**
 * Writes status.endpoint and status.lastSeen of the agent's own MeshNode: other agents seed
 * from the endpoints, and lastSeen tells an operator which nodes are alive. Rate-limited so a
 * thousand agents cost the API server a thousand small merge patches a minute, not more; the
 * patch names only those two fields, so it never races the operator's status writes.
 */
export class StatusReporter {
  readonly #o: StatusReporterOptions;
  readonly #intervalMs: number;
  readonly #minIntervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #lastWriteAt = -Infinity;
  #lastEndpoint: string | null = null;
  #writing = false;
  #stopped = false;
  writes = 0;
  failures = 0;

  constructor(options: StatusReporterOptions) {
    this.#o = options;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#minIntervalMs = options.minIntervalMs ?? 5_000;
  }

  start(): void {
    this.#schedule(0);
  }

  #isRunning(): boolean {
    return !this.#stopped;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Something changed (the endpoint, the certificate): report soon, within the rate limit. */
  nudge(): void {
    if (this.#stopped) return;
    const wait = Math.max(0, this.#lastWriteAt + this.#minIntervalMs - Date.now());
    this.#schedule(wait);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), ms);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    if (this.#stopped || this.#writing) return;
    const endpoint = this.#o.endpoint();
    const now = Date.now();
    const due = now - this.#lastWriteAt >= this.#intervalMs || endpoint !== this.#lastEndpoint;
    if (endpoint !== null && due) {
      this.#writing = true;
      try {
        await this.#o.client.request('PATCH', meshResourcePath(MESH_NODE_NAMES, this.#o.nodeName, 'status'), {
          body: { status: { endpoint, lastSeen: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z') } },
          contentType: MERGE_PATCH,
        });
        this.#lastWriteAt = now;
        this.#lastEndpoint = endpoint;
        this.writes++;
      } catch (err) {
        this.failures++;
        this.#o.log(`status report failed: ${errorMessage(err)}`);
      } finally {
        this.#writing = false;
      }
    }
    // stop() may have run while the patch was in flight.
    if (this.#isRunning()) this.#schedule(Math.min(this.#intervalMs, 15_000));
  }
}
