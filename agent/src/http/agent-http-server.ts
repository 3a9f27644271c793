import type { AddressInfo } from 'node:net';
import { errorMessage } from '@meshguard/core';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

/** A named condition: `check` returns undefined when it holds, else a short reason why not. */
export interface HealthCheck {
  readonly name: string;
  check(): string | undefined;
}

/** What /metrics serves: a prom-client Registry is one. */
export interface MetricsRegistry {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface AgentHttpOptions {
  /**
   * The address to bind, always given explicitly: loopback (`127.0.0.1`) for a standalone node,
   * the node's management address for a scraper. Never a public address — see AgentHttpServer.
   */
  readonly host: string;
  /** 0 picks a free port (see `port` on the server). */
  readonly port: number;
  /** /metrics, in the Prometheus text format. */
  readonly registry: MetricsRegistry;
  /**
   * /v1/status: the JSON `meshguard status --json` prints (MeshRuntime.status). Without it the
   * route answers 404, for a caller that wants metrics and probes only.
   */
  readonly status?: () => unknown;
  /** /healthz (and /livez): conditions besides the built-in event-loop check. */
  readonly liveness?: readonly HealthCheck[];
  /** /readyz: the node can do its job (e.g. MeshRuntime.readinessChecks(), a certificate). */
  readonly readiness?: readonly HealthCheck[];
  /** /healthz fails while the event loop runs later than this (default 2000 ms). */
  readonly maxEventLoopDelayMs?: number;
}

const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 2000;
const HEARTBEAT_MS = 250;

/**
 * The agent's HTTP surface, shared by `meshguard up --metrics` and the in-cluster agent:
 *
 * - `GET /metrics` — Prometheus text exposition of `registry`;
 * - `GET /healthz` (alias `/livez`) — the process works: its event loop keeps time, and every
 *   liveness check holds; failing it should get the process restarted;
 * - `GET /readyz` — the node can carry traffic: every readiness check holds; failing it only
 *   takes the node out of rotation;
 * - `GET /v1/status` — the node's status as JSON (when a provider is given).
 *
 * Probes answer 200 `ok`, or 503 with one `[-]name failed: reason` line per failing check;
 * `?verbose` lists every check, as kube-apiserver's probes do. Nothing here changes state.
 *
 * Bind it to loopback or a management network, never to a public address: the metrics tell
 * anyone who can reach them how big the mesh is and how its paths look, and /v1/status lists
 * every member with its keys, mesh addresses and endpoints (which the 0600 control socket
 * otherwise keeps to the node's owner).
 */
export class AgentHttpServer {
  readonly host: string;
  readonly port: number;
  readonly #app: FastifyInstance;
  readonly #loop: EventLoopWatch;
  #closed: Promise<void> | undefined;

  private constructor(app: FastifyInstance, loop: EventLoopWatch, host: string, port: number) {
    this.#app = app;
    this.#loop = loop;
    this.host = host;
    this.port = port;
  }

  static async start(options: AgentHttpOptions): Promise<AgentHttpServer> {
    const loop = new EventLoopWatch(options.maxEventLoopDelayMs ?? DEFAULT_MAX_EVENT_LOOP_DELAY_MS);
    // Probes and scrapes come every few seconds on keep-alive connections: a short keep-alive
    // timeout keeps close() from waiting on idle sockets, and forceCloseConnections ends the rest.
    const app = Fastify({ logger: false, keepAliveTimeout: 5_000, forceCloseConnections: true });
    const { registry, status } = options;
    app.get('/metrics', async (_request, reply) => {
      const text = await registry.metrics();
      return reply.header('content-type', registry.contentType).header('cache-control', 'no-store').send(text);
    });
    const liveness: readonly HealthCheck[] = [loop, ...(options.liveness ?? [])];
    const readiness = options.readiness ?? [];
    for (const [path, checks] of [
      ['/healthz', liveness],
      ['/livez', liveness],
      ['/readyz', readiness],
    ] as const) {
      app.get(path, (request, reply) => {
        probe(reply, checks, Object.hasOwn(request.query as object, 'verbose'));
      });
    }
    app.get('/v1/status', (_request, reply) => {
      void reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'no-store');
      if (status === undefined) {
        void reply.code(404).send('{"error":"status is not served here"}\n');
        return;
      }
      let body: string;
      try {
        // Stringified here, not by fastify: the same bytes as the control socket's STATUS.
        body = JSON.stringify(status());
      } catch (err) {
        void reply.code(500).send(`${JSON.stringify({ error: errorMessage(err) })}\n`);
        return;
      }
      void reply.code(200).send(`${body}\n`);
    });
    try {
      await app.listen({ host: options.host, port: options.port });
    } catch (err) {
      loop.stop();
      await app.close();
      throw err;
    }
    const bound = app.server.address() as AddressInfo;
    return new AgentHttpServer(app, loop, options.host, bound.port);
  }

  /** http://host:port, with a wildcard host replaced by loopback so a local client can call it. */
  get url(): string {
    const host = this.host === '0.0.0.0' ? '127.0.0.1' : this.host === '::' ? '::1' : this.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${String(this.port)}`;
  }

  /** Stops accepting connections and ends open ones; idempotent. */
  close(): Promise<void> {
    this.#loop.stop();
    this.#closed ??= this.#app.close();
    return this.#closed;
  }
}

/**
 * Liveness of the event loop: a heartbeat timer notes how late it fires. A loop that is stuck
 * does not answer the probe at all (the prober's timeout catches it); this catches one that is
 * badly behind — the data plane's timers, SWIM's probes and keepalives are all late with it.
 */
class EventLoopWatch implements HealthCheck {
  readonly name = 'event-loop';
  readonly #maxDelayMs: number;
  readonly #timer: NodeJS.Timeout;
  #lastBeat = performance.now();
  #lastDelay = 0;

  constructor(maxDelayMs: number) {
    this.#maxDelayMs = maxDelayMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#lastDelay = Math.max(0, now - this.#lastBeat - HEARTBEAT_MS);
      this.#lastBeat = now;
    }, HEARTBEAT_MS);
    this.#timer.unref();
  }

  check(): string | undefined {
    // The beat that is due but has not fired yet counts too.
    const pending = performance.now() - this.#lastBeat - HEARTBEAT_MS;
    const delay = Math.max(this.#lastDelay, pending);
    return delay > this.#maxDelayMs
      ? `event loop ${Math.round(delay)} ms behind (limit ${this.#maxDelayMs} ms)`
      : undefined;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function probe(reply: FastifyReply, checks: readonly HealthCheck[], verbose: boolean): void {
  const results = checks.map((c) => {
    let failure: string | undefined;
    try {
      failure = c.check();
    } catch (err) {
      failure = errorMessage(err);
    }
    return { name: c.name, failure };
  });
  const failed = results.filter((r) => r.failure !== undefined);
  void reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store');
  if (!verbose && failed.length === 0) {
    void reply.code(200).send('ok\n');
    return;
  }
  const lines = (verbose ? results : failed).map((r) =>
    r.failure === undefined ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.failure}`,
  );
  void reply
    .code(failed.length === 0 ? 200 : 503)
    .send(`${lines.join('\n')}\n${failed.length === 0 ? 'check passed' : 'check failed'}\n`);
}
