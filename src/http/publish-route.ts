import type { FastifyInstance } from 'fastify';
import { toPublishRequest } from '../ingest/publish-request.js';
import type { AppDeps } from '../app.js';
import { principalOf, subjectKey } from './authenticate.js';

/** `POST /v1/notifications`: answered 202 only once the notifications are committed. */
export function publishRoute(app: FastifyInstance, deps: AppDeps): void {
  app.post('/v1/notifications', {
    // Authenticated in onRequest (app.ts), so the rate limit counts per verified token `sub`, before the body is read.
    config: { auth: { scope: 'publish' }, rateLimit: { max: deps.config.publishRatePerMinute, timeWindow: 60_000, hook: 'preParsing', keyGenerator: subjectKey } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const body = request.body as Record<string, unknown> | null;
    if (body && typeof body === 'object' && 'publisher' in body) {
      return reply.status(400).send({ error: { code: 'invalid_request', message: 'publisher is set from your token; remove it from the body.' } });
    }
    const publishRequest = toPublishRequest(body, principal.sub, deps.config);
    const result = await deps.publisher.publish(publishRequest, 'http');
    return reply.status(202).send({ notifications: result.events.map((e) => e.notification) });
  });
}
