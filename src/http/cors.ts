import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { HeraldError } from '../errors.js';

/**
 * CORS for the origins in HERALD_CORS_ORIGINS. Registered first, so every answer to a
 * listed origin carries its headers, errors included (a 401, 429 or 503 the page must read
 * to refresh its token or wait). Exact origins only (config refuses "*" and "null"); the
 * plugin echoes the matching origin and adds `Vary: Origin`. No credentials: other origins
 * authenticate with a Bearer token, never with Herald's cookie.
 *
 * A preflight from any other origin is answered 403 `origin_not_allowed` naming the
 * variable, and logged once per origin: the most common integration mistake otherwise
 * shows only as "Failed to fetch" in the page.
 */
export async function corsForListedOrigins(app: FastifyInstance, origins: readonly string[], log: Logger): Promise<void> {
  const listed = new Set(origins);
  const reported = new Set<string>();
  app.addHook('onRequest', async (request) => {
    const origin = request.headers.origin;
    if (request.method !== 'OPTIONS' || request.headers['access-control-request-method'] === undefined || !origin || listed.has(origin)) return;
    // Bounded: an attacker sending many origins gets one line for the first hundred.
    if (!reported.has(origin) && reported.size < 100) {
      reported.add(origin);
      log.warn({ origin }, `a page on ${origin} tried to call Herald across origins; add it to HERALD_CORS_ORIGINS if it should`);
    }
    throw new HeraldError('origin_not_allowed', `The origin ${origin} is not in HERALD_CORS_ORIGINS: add it there to let its pages call Herald.`);
  });
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: [...origins],
    credentials: false,
    allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
    exposedHeaders: ['Retry-After', 'WWW-Authenticate'],
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    maxAge: 600,
  });
}
