import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
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

  app.get('/metrics', async (request, reply) => {
    const token = deps.config.metricsToken;
    if (token !== null) {
      const given = Buffer.from(request.headers.authorization ?? '');
      const expected = Buffer.from(`Bearer ${token}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HeraldError('invalid_token');
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
