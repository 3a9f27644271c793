import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * Prometheus scraping over HTTP: `/metrics` in the text exposition format and `/healthz`.
 * Bind it to loopback or a management address: it tells anyone who can reach it how big the
 * mesh is and how its paths look.
 */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
  healthy: () => boolean,
): Promise<{ readonly server: FastifyInstance; readonly port: number }> {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
  server.get('/healthz', async (_request, reply) => {
    const ok = healthy();
    return reply.code(ok ? 200 : 503).send(ok ? 'ok\n' : 'stopping\n');
  });
  await server.listen({ host, port });
  const address = server.server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : port };
}
