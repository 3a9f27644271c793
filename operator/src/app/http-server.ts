import type { AddressInfo } from 'node:net';
import { ArgumentError } from '@meshguard/core';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

/** A named condition; `check` returns undefined when it holds, else why not (shown by ?verbose). */
export interface HealthCheck {
  readonly name: string;
  check(): string | undefined;
}

/** What /metrics serves; OperatorMetrics is one. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export interface HttpServerOptions {
  /** `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free one. */
  readonly address: string;
  readonly metrics?: MetricsSource;
  /** /healthz: the process works (failing it gets the container restarted). */
  readonly liveness?: readonly HealthCheck[];
  /** /readyz: the process is ready to do its job (failing it only takes it out of rotation). */
  readonly readiness?: readonly HealthCheck[];
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListenAddress(address: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || !(Number.isSafeInteger(port) && port <= 65_535)) {
    throw new ArgumentError(`listen address must be host:port or :port, got ${JSON.stringify(address)}`);
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/**
 * The operator's HTTP endpoints, one server for metrics and probes: /metrics (Prometheus text),
 * /healthz and /readyz (200 `ok`, or 500 naming what failed; `?verbose` lists every check as
 * kube-apiserver does). Nothing here changes state, so it is safe to expose to a scraper.
 */
export class OperatorHttpServer {
  readonly address: ListenAddress;
  readonly #app: FastifyInstance;
  #closed: Promise<void> | undefined;

  private constructor(app: FastifyInstance, address: ListenAddress) {
    this.#app = app;
    this.address = address;
  }

  static async start(options: HttpServerOptions): Promise<OperatorHttpServer> {
    const listen = parseListenAddress(options.address);
    // Probes and scrapes come every few seconds on keep-alive connections: a short keep-alive
    // timeout keeps close() from waiting on idle sockets, and forceCloseConnections ends the rest.
    const app = Fastify({ logger: false, keepAliveTimeout: 5_000, forceCloseConnections: true });
    const metrics = options.metrics;
    if (metrics !== undefined) {
      app.get('/metrics', async (_request, reply) => {
        const text = await metrics.text();
        return reply.header('content-type', metrics.contentType).send(text);
      });
    }
    const probe = (path: string, checks: readonly HealthCheck[]): void => {
      app.get(path, (request, reply) => {
        respond(reply, checks, Object.hasOwn(request.query as object, 'verbose'));
      });
    };
    probe('/healthz', options.liveness ?? []);
    probe('/livez', options.liveness ?? []);
    probe('/readyz', options.readiness ?? []);
    await app.listen({ host: listen.host, port: listen.port });
    const bound = app.server.address() as AddressInfo;
    return new OperatorHttpServer(app, { host: listen.host, port: bound.port });
  }

  /** http://host:port, with a wildcard host replaced by loopback so tests can call it. */
  get url(): string {
    const host = this.address.host === '0.0.0.0' ? '127.0.0.1' : this.address.host === '::' ? '::1' : this.address.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${String(this.address.port)}`;
  }

  /** Stops accepting connections and ends open ones; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#app.close();
    return this.#closed;
  }
}

function respond(reply: FastifyReply, checks: readonly HealthCheck[], verbose: boolean): void {
  const results = checks.map((c) => {
    let failure: string | undefined;
    try {
      failure = c.check();
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
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
  const summary = failed.length === 0 ? 'check passed' : 'check failed';
  void reply.code(failed.length === 0 ? 200 : 500).send(`${lines.join('\n')}\n${summary}\n`);
}
