import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * forward: a plain TCP relay (TLS passes through untouched).
 * refuse: every connection is reset at once, as when the API server is down.
 * blackhole: connections stay open and nothing gets through either way, as behind a dead NAT
 *   mapping or a hung load balancer: the silent stall an informer's watchdog exists for.
 */
export type ProxyMode = 'forward' | 'refuse' | 'blackhole';

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  blackholed: boolean;
}

/** A TCP relay in front of the API server on loopback, so a test can cut, refuse or silence one client's traffic. */
export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #mode: ProxyMode = 'forward';
  connections = 0;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('proxy has no TCP address'));
          return;
        }
        const proxy = new TcpProxy(server, address.port);
        server.on('connection', (client) => {
          proxy.#accept(client, targetHost, targetPort);
        });
        resolve(proxy);
      });
    });
  }

  get url(): string {
    return `https://127.0.0.1:${String(this.port)}`;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  setMode(mode: ProxyMode): void {
    this.#mode = mode;
    for (const pair of this.#pairs) {
      if (mode === 'refuse') this.#drop(pair);
      else if (mode === 'blackhole') pair.blackholed = true;
      // Back to forwarding: silenced connections are reset, so their clients notice at once
      // (their bytes were lost anyway) instead of waiting on their own timers.
      else if (pair.blackholed) this.#drop(pair);
    }
  }

  /** Resets every open connection: what clients see when the API server restarts. */
  cutAll(): void {
    for (const pair of this.#pairs) this.#drop(pair);
  }

  close(): Promise<void> {
    this.cutAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    this.connections++;
    client.on('error', () => undefined);
    if (this.#mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined, blackholed: this.#mode === 'blackhole' };
    this.#pairs.add(pair);
    client.on('close', () => this.#drop(pair));
    if (pair.blackholed) return; // accepted, never connected onwards
    const upstream = connect({ host, port });
    pair.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.#drop(pair));
    upstream.on('data', (chunk: Buffer) => {
      if (!pair.blackholed) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (!pair.blackholed) upstream.write(chunk);
    });
  }

  #drop(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.client.resetAndDestroy();
    pair.upstream?.resetAndDestroy();
  }
}
