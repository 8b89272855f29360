// What operators need from the HTTP layer: a request counter per route (error-rate alerts),
// and overload shedding. Under pressure (event-loop delay, heap or RSS past their bounds)
// only the work that adds load is refused: opening a stream and publishing. Open streams
// keep flowing, and the inbox, health and metrics routes keep answering, so a node sheds
// load without cutting anyone off and can be watched while it recovers.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import underPressure from '@fastify/under-pressure';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HeraldError } from '../errors.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { installOpenApi } from './openapi.js';

/** Routes refused while overloaded, by `METHOD url-template`, with their label in the metric. */
const SHED: Record<string, string> = { 'GET /v1/stream': 'stream', 'POST /v1/notifications': 'publish', 'POST /v1/notifications/batch': 'publish' };

const MIB = 1024 * 1024;
/** How often load is sampled: a node recovers (and /readyz turns ready) within this of the load easing. */
const SAMPLE_MS = 500;

export interface OperationsDeps {
  config: Pick<Config, 'shedEventLoopDelayMs' | 'shedHeapUsedMb' | 'shedRssMb' | 'shedRetryAfterS' | 'testKnobs'>;
  metrics: Metrics;
}

export async function installOperations(app: FastifyInstance, deps: OperationsDeps): Promise<void> {
  const { config, metrics } = deps;
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequests.inc({ route: request.routeOptions.url ?? 'unmatched', status: `${Math.floor(reply.statusCode / 100)}xx` });
  });

  // The first samples measure start-up work (loading modules, compiling schemas), not load:
  // a node that has just started must not refuse its first clients for that.
  let measuringSince = Infinity;
  app.addHook('onReady', async () => { measuringSince = Date.now() + 2 * SAMPLE_MS; });
  const startingUp = (): boolean => Date.now() < measuringSince;
  await app.register(underPressure, {
    maxEventLoopDelay: config.shedEventLoopDelayMs,
    maxHeapUsedBytes: config.shedHeapUsedMb * MIB,
    maxRssBytes: config.shedRssMb * MIB,
    sampleInterval: SAMPLE_MS,
    pressureHandler: (request: FastifyRequest, _reply, type) => {
      const route = SHED[`${request.method} ${request.routeOptions.url ?? ''}`];
      if (route === undefined) return undefined;
      if (type === underPressure.TYPE_EVENT_LOOP_DELAY && startingUp()) return undefined;
      metrics.shed.inc({ reason: type, route });
      return Promise.reject(new HeraldError('overloaded', `This node is overloaded (${describe(type)}); retry later or on another node.`, config.shedRetryAfterS));
    },
  });
  // What /readyz and herald_overloaded say, judged as the shedding judges: a node is not
  // reported overloaded for its start-up work either.
  app.decorate('overloaded', () => app.isUnderPressure() && !(startingUp() && onlyLoopDelayOver(app.memoryUsage(), config)));
  metrics.probes.overloaded = () => app.overloaded();

  if (config.testKnobs) testKnobs(app);
  // Registered before the routes, so it sees each one as it is added.
  await installOpenApi(app);
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Over a shedding limit (HERALD_SHED_*): new streams and publishes are refused. */
    overloaded(): boolean;
  }
}

/**
 * True when no memory limit is over, so the loop's delay is what puts the node under
 * pressure (start-up work alone can do that).
 */
export function onlyLoopDelayOver(usage: { heapUsed: number; rssBytes: number }, limits: Pick<Config, 'shedHeapUsedMb' | 'shedRssMb'>): boolean {
  const heapOver = limits.shedHeapUsedMb > 0 && usage.heapUsed > limits.shedHeapUsedMb * MIB;
  const rssOver = limits.shedRssMb > 0 && usage.rssBytes > limits.shedRssMb * MIB;
  return !heapOver && !rssOver;
}

function describe(type: string): string {
  if (type === underPressure.TYPE_EVENT_LOOP_DELAY) return 'event-loop delay over HERALD_SHED_EVENT_LOOP_DELAY_MS';
  if (type === underPressure.TYPE_HEAP_USED_BYTES) return 'heap over HERALD_SHED_HEAP_MB';
  if (type === underPressure.TYPE_RSS_BYTES) return 'resident memory over HERALD_SHED_RSS_MB';
  return type;
}

/**
 * Test-only (HERALD_TEST_KNOBS): `POST /test/stall` keeps the event loop busy in slices of
 * `slice_ms` for `ms`, yielding between slices, as a CPU-bound burst would; `DELETE
 * /test/stall` ends it. Tests use it to drive the node into overload for real.
 */
function testKnobs(app: FastifyInstance): void {
  let stallUntil = 0;
  const StallQuery = Type.Object({ ms: Type.Optional(Type.Integer({ minimum: 0 })), slice_ms: Type.Optional(Type.Integer({ minimum: 1 })) });
  app.withTypeProvider<TypeBoxTypeProvider>().post('/test/stall', { schema: { hide: true, querystring: StallQuery } }, async (request, reply) => {
    const slice = request.query.slice_ms ?? 200;
    stallUntil = Date.now() + (request.query.ms ?? 5000);
    const burn = (): void => {
      if (Date.now() >= stallUntil) return;
      const end = Date.now() + slice;
      while (Date.now() < end) { /* busy: this is the point */ }
      setImmediate(burn);
    };
    setImmediate(burn);
    return reply.status(202).send({ stalling: true });
  });
  app.delete('/test/stall', { schema: { hide: true } }, async () => {
    stallUntil = 0;
    return { stalling: false };
  });
}
