import type { FastifyInstance } from 'fastify';
import { PublishBody, toPublishRequest } from '../ingest/publish-request.js';
import type { Config } from '../config.js';
import type { NotificationPublisher, PublishOutcome } from '../ingest/publisher.js';
import { principalOf, subjectKey } from './authenticate.js';
import type { Clock } from '../domain/clock.js';
import { AUTH_ERRORS, responses, Responses } from './schemas.js';

/** `POST /v1/notifications`: answered 202 only once the notifications are committed. */
export interface PublishRouteDeps {
  publisher: NotificationPublisher;
  config: Pick<Config, 'publishRatePerMinute' | 'maxRecipients' | 'maxContentBytes' | 'maxDataBytes'>;
  /** deliver_at and expires_at are checked against the hub's clock. */
  hub: { clock: Clock };
}

export function publishRoute(app: FastifyInstance, deps: PublishRouteDeps): void {
  app.post('/v1/notifications', {
    schema: {
      body: PublishBody, summary: 'Publish a notification to users or a shared topic; 202 once it is stored.', tags: ['publish'],
      response: responses({ 202: Responses.published }, 400, 409, 413, 415, ...AUTH_ERRORS),
    },
    // The body schema describes the API only: toPublishRequest checks it, with the same
    // messages as for queue-ingested messages.
    validatorCompiler: () => () => true,
    // Authenticated in onRequest (app.ts), so the rate limit counts per verified token `sub`, before the body is read.
    config: { auth: { scope: 'publish' }, rateLimit: { max: deps.config.publishRatePerMinute, timeWindow: 60_000, hook: 'preParsing', keyGenerator: subjectKey } },
  }, async (request, reply) => {
    const principal = principalOf(request);
    const body = request.body as Record<string, unknown> | null;
    if (body && typeof body === 'object' && 'publisher' in body) {
      return reply.status(400).send({ error: { code: 'invalid_request', message: 'publisher is set from your token; remove it from the body.' } });
    }
    const publishRequest = toPublishRequest(body, principal.sub, deps.config, deps.hub.clock.now());
    const result = await deps.publisher.publish(publishRequest, 'http');
    return reply.status(202).send(publishAnswer(result));
  });
}

/** A publish's answer body: the notifications it stored (scheduled ones with their deliver_at), and whom it left out. */
export function publishAnswer(result: PublishOutcome): { notifications: unknown[]; suppressed: string[] } {
  const scheduled = (result.scheduled ?? []).map((s) => ({ ...s.notification, deliver_at: s.deliver_at }));
  return { notifications: [...result.events.map((e) => e.notification), ...scheduled], suppressed: result.suppressed };
}
