import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { isLoopbackHost } from '../config.js';
import { isDirectLocalRequest } from './local-request.js';
import { HeraldError } from '../errors.js';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Hub } from '../sse/hub.js';
import type { NotificationStore } from '../store/store.js';
import { errorResponses, Responses } from './schemas.js';
import { VERSION } from '../version.js';

export interface HealthRouteDeps {
  hub: Pick<Hub, 'draining'>;
  store: NotificationStore;
  bus: Bus;
  metrics: Metrics;
  config: Pick<Config, 'maxConnections' | 'shedRetryAfterS' | 'host' | 'metricsToken'>;
}

export function healthRoutes(app: FastifyInstance, deps: HealthRouteDeps): void {
  const readiness = async () => {
    let databaseProblem: string | null = null;
    const checks = {
      database: await deps.store.ping().then(() => true, (err: unknown) => {
        // A reason Herald itself gives (a full disk, a restarting writer) is shown; a driver's is not.
        databaseProblem = err instanceof HeraldError ? err.message : 'The database is unreachable.';
        return false;
      }),
      broker: deps.bus.isReady(),
      // False while new streams and publishes are shed (see operations.ts).
      load: !app.overloaded(),
    };
    return { ready: checks.database && checks.broker && checks.load, checks, databaseProblem };
  };
  deps.metrics.probes.ready = async () => (await readiness()).ready;
  deps.metrics.maxConnections.set(deps.config.maxConnections);

  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers.', tags: ['health'], security: [], response: { 200: Responses.health } },
  }, async () => ({ status: 'ok', version: VERSION }));

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: database and broker reachable, node not overloaded.', tags: ['health'], security: [],
      response: { 200: Responses.ready, 503: { ...Responses.notReady, description: 'Not ready (code unavailable or overloaded); Retry-After says when to look again.' } },
    },
  }, async (_request, reply) => {
    if (deps.hub.draining) {
      reply.header('retry-after', '1');
      return reply.status(503).send({ error: { code: 'unavailable', message: 'This node is draining (shutting down): send new requests to another node.' }, checks: { database: true, broker: true, load: true } });
    }
    const { ready, checks, databaseProblem } = await readiness();
    if (ready) return { status: 'ready', checks };
    if (!checks.load) {
      reply.header('retry-after', String(deps.config.shedRetryAfterS));
      return reply.status(503).send({ error: { code: 'overloaded', message: 'This node is overloaded and sheds new streams and publishes.' }, checks });
    }
    reply.header('retry-after', '2');
    const message = databaseProblem ?? 'The broker is unreachable.';
    return reply.status(503).send({ error: { code: 'unavailable', message }, checks });
  });

  // Without a token, only a scrape made on this machine, straight to a loopback-only server,
  // is answered: on any other interface, or relayed by a proxy (which adds a forwarding
  // header and makes the request look local), the metrics would be open to the network.
  const loopbackOnly = isLoopbackHost(deps.config.host);
  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics of this node (docs/operations.md lists them).', tags: ['health'],
      description: 'Needs `Authorization: Bearer <HERALD_METRICS_TOKEN>` when that is set, and whenever Herald listens beyond loopback.',
      response: { 200: { description: 'Prometheus text format.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponses(401, 403) },
    },
  }, async (request, reply) => {
    const token = deps.config.metricsToken;
    if (token === null) {
      if (!loopbackOnly || !isDirectLocalRequest(request)) throw new HeraldError('metrics_token_required');
    } else {
      const given = Buffer.from(request.headers.authorization ?? '');
      const expected = Buffer.from(`Bearer ${token}`);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HeraldError('invalid_token');
    }
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.render();
  });
}
