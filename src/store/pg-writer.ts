// The PostgreSQL publish path: a batch of publishes in one transaction on a pool client,
// with a fixed number of statements whatever its size (pg-statements.ts).
import { systemClock, type Clock } from '../domain/clock.js';
import type pg from 'pg';
import { HeraldError } from '../errors.js';
import type { BatchWriter, Outcome } from './group-commit.js';
import {
  countByTopic, keyClaims, keyPlans, keyResponses, mutingQuestion, outcomesOf, planPublish, pushesOfPublishes, replayIds, takeSequences, takenKeys, topicsOf, writtenRows,
  type PushQueueing,
} from './publish-plan.js';
import { PgStatements } from './pg-statements.js';
import type { PublishRequest, PublishResult } from './store.js';

export class PgPublishWriter implements BatchWriter<PublishRequest, PublishResult> {
  readonly #pool: pg.Pool;
  readonly #clock: Clock;
  readonly #push: PushQueueing | null;

  /** `clock` dates what it stores (the nodes' shared, database-set time); `push`: how new notifications feed the push queue. */
  constructor(pool: pg.Pool, clock: Clock = systemClock, push: PushQueueing | null = null) {
    this.#pool = pool;
    this.#clock = clock;
    this.#push = push;
  }

  async write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const statements = new PgStatements(async (statement, values) => (await client.query({ ...statement, values })).rows);
      const outcomes = await publishBatch(statements, requests, new Date(this.#clock.now()).toISOString(), this.#push);
      await client.query('commit');
      return outcomes;
    } catch (err) {
      // A connection that cannot even roll back is dropped, not returned to the pool.
      broken = await client.query('rollback').then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      throw refusedText(err) ?? err;
    } finally {
      client.release(broken);
    }
  }
}

/**
 * The batch's statements in the order sqlite-writer.ts runs them. A claim that finds a
 * key taken waits, on the key's unique index, until the publish that took it committed;
 * the mute lookup runs in the transaction, so a committed PUT of preferences is seen.
 */
async function publishBatch(s: PgStatements, requests: readonly PublishRequest[], now: string, push: PushQueueing | null): Promise<Outcome<PublishResult>[]> {
  const claims = keyClaims(requests);
  const claimed = await s.claimKeys(claims, now);
  const plans = keyPlans(requests, claimed, await s.readKeys(takenKeys(claims, claimed)));
  const muted = await s.usersMuting(requests.map((request, i) => (plans[i]?.kind === 'write' ? mutingQuestion(request) : null)));
  const publishes = requests.map((request, i) => (plans[i]?.kind === 'write' ? planPublish(request, muted[i] as Set<string>, now) : null));
  const topics = topicsOf(publishes);
  const { rows, results } = writtenRows(publishes, takeSequences(topics, await s.advanceHeads(countByTopic(topics))));
  await s.insertNotifications(rows);
  await s.enqueuePushes(pushesOfPublishes(publishes, now, push));
  await s.storeResponses(keyResponses(requests, results));
  return outcomesOf(plans, results, await s.notificationsByIds(replayIds(plans)));
}

/** PostgreSQL text cannot hold U+0000 (SQLite can): the request's fault, not the server's. */
export function refusedText(err: unknown): HeraldError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== '22021' && code !== '22P05') return null;
  return new HeraldError('invalid_request', 'Text fields must not contain the NUL character (U+0000).');
}
