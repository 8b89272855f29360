import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../errors.js';
import type { AppDeps } from '../app.js';

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  const readiness = async () => {
    const checks = {
      database: await deps.store.ping().then(() => true, () => false),
      broker: deps.bus.isReady(),
      // False while new streams and publishes are shed (see operations.ts).
      load: !app.isUnderPressure(),
    };
    return { ready: checks.database && checks.broker && checks.load, checks };
  };
  deps.metrics.probes.ready = async () => (await readiness()).ready;
  deps.metrics.maxConnections.set(deps.config.maxConnections);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = await readiness();
    if (ready) return { status: 'ready', checks };
    if (!checks.load) {
      reply.header('retry-after', String(deps.config.shedRetryAfterS));
      return reply.status(503).send({ error: { code: 'overloaded', message: 'This node is overloaded and sheds new streams and publishes.' }, checks });
    }
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
