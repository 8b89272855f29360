import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import helmet from 'helmet';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { TicketService } from './auth/tickets.js';
import type { Bus } from './bus/bus.js';
import type { Config } from './config.js';
import { HeraldError } from './errors.js';
import { corsForListedOrigins } from './http/cors.js';
import { devRoutes } from './http/dev-routes.js';
import { authenticateRoutes, limitAuthenticatedRoutes, type Authenticate, type AuthenticateStream } from './http/authenticate.js';
import { installErrorHandling } from './http/errors-plugin.js';
import { ipAllowList } from './http/ip-allow-list.js';
import { limitConnectionsPerAddress } from './http/connection-limit.js';
import { lingerBeforeClosing } from './http/lingering-close.js';
import { clientErrorHandler, refuseUnwantedBodies, urlLengthLimit } from './http/request-limits.js';
import { ticketRoutes } from './http/ticket-route.js';
import { healthRoutes } from './http/health-routes.js';
import { browserModuleRoutes } from './http/browser-modules.js';
import { notificationRoutes } from './http/notification-routes.js';
import { InboxService } from './inbox/inbox-service.js';
import { preferenceRoutes } from './http/preference-routes.js';
import { installOperations } from './http/operations.js';
import { publishRoute } from './http/publish-route.js';
import { batchPublishRoute } from './http/batch-publish-route.js';
import { pushRoutes, type PushSettings } from './http/push-routes.js';
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
  authenticateStream: AuthenticateStream;
  /** Mints and redeems stream tickets; without it `POST /v1/stream/tickets` and `/v1/session` are absent. */
  tickets?: TicketService;
  /** Mints development tokens for the inbox page; null outside development mode. */
  mintDevToken: ((user: string) => Promise<string>) | null;
  /** Built inbox page (web/dist); not served when missing. */
  webRoot: string;
  /** Web Push; null (or absent) when it is off: its routes answer 404. */
  push?: PushSettings | null;
}

/**
 * Headers for every answer: the page may only load its own script and style, connect to its
 * own origin and never be framed; nothing is MIME-sniffed; no Referer leaves (a URL may carry
 * a token); `/v1` answers are never cached (they are per user). HSTS is left to the TLS
 * proxy. The stream sets its own Cache-Control, which replaces no-store there.
 */
function securityHeaders(app: FastifyInstance): void {
  const headers = helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
  });
  // On the raw response, so the stream's own writeHead (it hijacks the reply) carries them too.
  app.addHook('onRequest', (request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/v1') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}

/**
 * The headers helmet sets with these options, worked out once. None depends on the request,
 * and running helmet's chain of thirteen middlewares on every request (rebuilt per request,
 * as @fastify/helmet does, it cost ~40 µs) is a good part of what a publish costs.
 */
function helmetHeaders(options: Parameters<typeof helmet>[0]): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => { headers.push([name, String(value)]); },
    removeHeader: () => {},
  };
  let done = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, () => { done = true; });
  if (!done) throw new Error('helmet did not finish synchronously');
  return headers;
}

/**
 * One access line per request, written once it is answered and carrying the request's
 * fields too, instead of Fastify's two (incoming, completed): at thousands of publishes a
 * second, log lines are a good part of what a request costs.
 */
class AccessLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * Once the node drains (SIGTERM), a new request on a kept-alive connection is answered 503
 * with Retry-After before any work: the client (or nginx, for the request's first try) goes
 * to another node. Health and metrics still answer. Each answer given while draining says
 * `Connection: close`, so kept-alive connections end after an answer instead of being cut
 * idle while a client sends on them (the keep-alive race). A callback hook: it runs on
 * every request, publishes included, and costs one flag read when not draining.
 */
function refuseWhileDraining(app: FastifyInstance, hub: Pick<Hub, 'draining'>): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (!hub.draining) return done();
    reply.header('connection', 'close');
    if (/^\/(healthz|readyz|metrics)$/.test(request.routeOptions.url ?? '')) return done();
    done(new HeraldError('unavailable', 'This node is shutting down; retry on another node.', 1));
  });
}

/** The HTTP application. It never listens by itself: main.ts does, tests inject or listen. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    // Closing (after the drain window) ends idle connections at once and lets requests in
    // flight finish: a publish waiting for its commit gets its answer (main.ts bounds the wait).
    forceCloseConnections: 'idle',
    // While closing, a request on a kept-alive connection is answered by refuseWhileDraining
    // (503 with Retry-After), not by Fastify's bare 503.
    return503OnClosing: false,
    // Elastic Common Schema's name for the id that ties a request's log lines together (src/log.ts).
    logController: new AccessLog({ requestIdLogLabel: 'transaction.id' }),
    bodyLimit: config.maxBodyBytes,
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    routerOptions: { maxParamLength: 200 },
    // Node refuses a larger request head (the URL counts) with 431 before any parsing, and
    // closes a connection whose request (head and body) has not fully arrived in time: a
    // client trickling a body a byte at a time, with or without a token, holds nothing for
    // long. Node checks at `connectionsCheckingInterval`; a stream's request is complete at
    // its head, so streams are never cut by it.
    http: {
      maxHeaderSize: config.maxHeaderBytes,
      headersTimeout: Math.min(config.requestTimeoutMs, 10_000),
      connectionsCheckingInterval: Math.min(config.requestTimeoutMs / 4, 5000),
    },
    // Fastify's default (0) would turn Node's off.
    requestTimeout: config.requestTimeoutMs,
    clientErrorHandler,
    // Unknown query parameters and body fields are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  limitConnectionsPerAddress(app.server, {
    maxPerAddress: config.maxConnectionsPerAddress, trustProxy: config.trustProxy, metrics: deps.metrics, log: deps.log,
  });
  lingerBeforeClosing(app.server);
  installErrorHandling(app);
  // JSON only: a text/plain body is what a cross-site form or no-preflight fetch can send.
  app.removeContentTypeParser('text/plain');
  refuseWhileDraining(app, deps.hub);
  urlLengthLimit(app, config.maxUrlBytes);
  refuseUnwantedBodies(app);
  await corsForListedOrigins(app, config.corsOrigins, deps.log);
  ipAllowList(app, config.allowIps);
  securityHeaders(app);
  // After the IP allow-list, before any body is read: one way for every /v1 route that
  // declares `config.auth` (the stream authenticates in its handler; a GET has no body).
  authenticateRoutes(app, deps.authenticate, config.publicOrigin);
  limitAuthenticatedRoutes(app, config.userRatePerMinute);
  await app.register(rateLimit, { global: false });
  await installOperations(app, deps);
  healthRoutes(app, deps);
  streamRoute(app, deps);
  publishRoute(app, deps);
  batchPublishRoute(app, deps);
  const inbox = new InboxService(deps.store, deps.bus, app.log);
  notificationRoutes(app, { ...deps, inbox });
  preferenceRoutes(app, { ...deps, inbox });
  pushRoutes(app, { ...deps, inbox, push: deps.push ?? null });
  devRoutes(app, deps);
  browserModuleRoutes(app);
  if (deps.tickets) ticketRoutes(app, deps, deps.tickets);
  if (existsSync(deps.webRoot)) {
    await app.register(fastifyStatic, {
      root: deps.webRoot, prefix: '/', index: ['index.html'], wildcard: false,
      // Source maps give away the page's source layout: served in development mode only.
      allowedPath: (pathName) => config.devMode || !pathName.endsWith('.map'),
    });
  }
  return app;
}
