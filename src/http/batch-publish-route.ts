import type { FastifyInstance, FastifyBaseLogger } from 'fastify';
import { Type } from '@sinclair/typebox';
import { PublishBody, toPublishRequest } from '../ingest/publish-request.js';
import type { Config } from '../config.js';
import type { NotificationPublisher } from '../ingest/publisher.js';
import { HeraldError, isUnreachable } from '../errors.js';
import type { PublishRequest } from '../store/store.js';
import { principalOf, subjectKey } from './authenticate.js';
import type { Clock } from '../domain/clock.js';
import { AUTH_ERRORS, responses, Responses } from './schemas.js';
import { publishAnswer } from './publish-route.js';

export interface BatchPublishRouteDeps {
  publisher: NotificationPublisher;
  config: Pick<Config, 'publishRatePerMinute' | 'maxRecipients' | 'maxContentBytes' | 'maxDataBytes' | 'maxBatch'>;
  /** deliver_at and expires_at are checked against the hub's clock. */
  hub: { clock: Clock };
}

/**
 * Notifications one batch may store in all (recipients summed over its items), as a multiple
 * of the per-publish limit: one transaction, and the answers built on the event loop, stay
 * bounded however the items are shaped.
 */
const BATCH_ROWS_PER_RECIPIENT_LIMIT = 10;

const BatchBody = Type.Object({
  notifications: Type.Array(PublishBody, { minItems: 1, description: 'Each a `POST /v1/notifications` body; at most HERALD_MAX_BATCH (default 500).' }),
}, { additionalProperties: false });

type ItemAnswer = { status: number; notifications?: unknown[]; suppressed?: string[]; error?: { code: string; message: string } };

/**
 * `POST /v1/notifications/batch`: many publishes in one request and one transaction. Each
 * item is checked as a publish on its own; the valid ones commit together (one commit,
 * one fsync, answers them all) and an invalid one fails alone, in its place of the answer.
 */
export function batchPublishRoute(app: FastifyInstance, deps: BatchPublishRouteDeps): void {
  const maxRows = deps.config.maxRecipients * BATCH_ROWS_PER_RECIPIENT_LIMIT;
  app.post('/v1/notifications/batch', {
    schema: {
      body: BatchBody,
      summary: 'Publish many notifications in one request: the valid items are stored in one transaction; 200 with one answer per item, in order.',
      tags: ['publish'],
      response: responses({ 200: Responses.batchPublished }, 400, 413, 415, ...AUTH_ERRORS),
    },
    // Items are checked one by one (toPublishRequest), so one bad item fails alone.
    validatorCompiler: () => () => true,
    // One request counts once against the publish rate, with a counter of its own.
    config: { auth: { scope: 'publish' }, rateLimit: { max: deps.config.publishRatePerMinute, timeWindow: 60_000, hook: 'preParsing', keyGenerator: subjectKey } },
  }, async (request, reply) => {
    const items = batchItems(request.body, deps.config.maxBatch);
    const principal = principalOf(request);
    const now = deps.hub.clock.now();
    const answers: ItemAnswer[] = new Array(items.length);
    const valid: PublishRequest[] = [];
    const at: number[] = [];
    let rows = 0;
    items.forEach((item, i) => {
      try {
        if (item !== null && typeof item === 'object' && 'publisher' in item) {
          throw new HeraldError('invalid_request', 'publisher is set from your token; remove it from the item.');
        }
        const publish = toPublishRequest(item, principal.sub, deps.config, now);
        rows += publish.recipients?.length ?? 1;
        valid.push(publish);
        at.push(i);
      } catch (err) {
        answers[i] = failed(err, request.log);
      }
    });
    if (rows > maxRows) {
      throw new HeraldError('invalid_request', `The batch's items name ${rows} recipients in all; at most ${maxRows} per batch: split it.`);
    }
    const outcomes = await deps.publisher.publishBatch(valid, 'http');
    outcomes.forEach((outcome, j) => {
      answers[at[j] as number] = outcome.ok ? { status: 202, ...publishAnswer(outcome.value) } : failed(outcome.error, request.log);
    });
    return reply.status(200).send({ results: answers });
  });
}

/** The body's items, or a 400 for the batch as a whole. */
function batchItems(body: unknown, maxBatch: number): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HeraldError('invalid_request', 'The body must be a JSON object: {"notifications": [<publish body>, …]}.');
  }
  const unknown = Object.keys(body).find((key) => key !== 'notifications');
  if (unknown !== undefined) throw new HeraldError('invalid_request', `body: unknown parameter "${unknown}"; send {"notifications": [<publish body>, …]}.`);
  const items = (body as { notifications?: unknown }).notifications;
  if (!Array.isArray(items) || items.length === 0) {
    throw new HeraldError('invalid_request', 'notifications must be an array of 1 or more publish bodies.');
  }
  if (items.length > maxBatch) throw new HeraldError('invalid_request', `At most ${maxBatch} notifications per batch (HERALD_MAX_BATCH); split it.`);
  return items;
}

/** An item's failure as its answer: its own status and stable code, never internals. */
function failed(err: unknown, log: FastifyBaseLogger): ItemAnswer {
  let herald: HeraldError;
  if (err instanceof HeraldError) herald = err;
  else {
    log.error({ err }, 'a batch item failed');
    herald = isUnreachable(err) ? new HeraldError('unavailable', 'The database could not store this item; retry it (with the same idempotency key).') : new HeraldError('internal');
  }
  return { status: herald.status, error: { code: herald.code, message: herald.message } };
}
