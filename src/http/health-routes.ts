import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../config.js';
import { HeraldError } from '../errors.js';
import type { AppDeps } from '../app.js';

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const checks = { database: await deps.store.ping().then(() => true, () => false), broker: deps.bus.isReady() };
    if (checks.database && checks.broker) return { status: 'ready', checks };
    reply.header('retry-after', '2');
    return reply.status(503).send({ error: { code: 'unavailable', message: 'A dependency is unreachable.' }, checks });
  });

  // Without a token, only a scrape made on this machine, straight to a loopback-only server,
  // is answered: on any other interface, or relayed by a proxy (which adds a forwarding
  // header and makes the request look local), the metrics would be open to the network.
  const loopbackOnly = isLoopbackHost(deps.config.host);
  app.get('/metrics', async (request, reply) => {
    const token = deps.config.metricsToken;
    if (token === null) {
      const relayed = ['x-forwarded-for', 'forwarded', 'x-real-ip'].some((name) => request.headers[name] !== undefined);
      if (!loopbackOnly || relayed || !isLoopbackHost(request.raw.socket.remoteAddress ?? '')) throw new HeraldError('metrics_token_required');
    } else {
      const given = Buffer.from(request.headers.authorization ?? '');
      const expected = Buffer.from(`Bearer ${token}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HeraldError('invalid_token');
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
