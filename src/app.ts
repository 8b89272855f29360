import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Principal } from './auth/principal.js';
import type { Bus } from './bus/bus.js';
import type { Config } from './config.js';
import { devRoutes } from './http/dev-routes.js';
import type { Authenticate } from './http/authenticate.js';
import { installErrorHandling } from './http/errors-plugin.js';
import { healthRoutes } from './http/health-routes.js';
import { notificationRoutes } from './http/notification-routes.js';
import { publishRoute } from './http/publish-route.js';
import { streamRoute } from './http/stream-route.js';
import type { NotificationPublisher } from './ingest/publisher.js';
import type { Metrics } from './metrics.js';
import type { Hub } from './sse/hub.js';
import type { NotificationStore } from './store/store.js';

export interface AppDeps {
  config: Config;
  store: NotificationStore;
  bus: Bus;
  hub: Hub;
  publisher: NotificationPublisher;
  metrics: Metrics;
  log: Logger;
  authenticate: Authenticate;
  /** Stream authentication: everything `authenticate` accepts (plus tickets, where enabled). */
  authenticateStream(request: FastifyRequest): Promise<Principal>;
  /** Mints development tokens for the inbox page; null outside development mode. */
  mintDevToken: ((user: string) => Promise<string>) | null;
  /** Built inbox page (web/dist); not served when missing. */
  webRoot: string;
}

/** The HTTP application. It never listens by itself: main.ts does, tests inject or listen. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    bodyLimit: config.maxBodyBytes,
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    routerOptions: { maxParamLength: 200 },
    // Unknown query parameters and body fields are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  installErrorHandling(app);
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...config.corsOrigins],
      credentials: true,
      allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
      methods: ['GET', 'POST', 'PATCH'],
      maxAge: 600,
    });
  }
  await app.register(rateLimit, { global: false });
  healthRoutes(app, deps);
  streamRoute(app, deps);
  publishRoute(app, deps);
  notificationRoutes(app, deps);
  devRoutes(app, deps);
  if (existsSync(deps.webRoot)) {
    await app.register(fastifyStatic, { root: deps.webRoot, prefix: '/', index: ['index.html'], wildcard: false });
  }
  return app;
}
