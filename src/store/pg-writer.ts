// The PostgreSQL publish path: a batch of publishes in one transaction with a fixed number
// of statements, whatever the number of publishes and recipients (arrays through unnest),
// each a named statement that the server plans once per connection.
import { systemClock, type Clock } from '../sse/clock.js';
import { newNotificationId } from './ids.js';
import type pg from 'pg';
import { patternsMuting } from '../domain/preferences.js';
import { HeraldError } from '../errors.js';
import type { BatchWriter, Outcome } from './group-commit.js';
import { newNotification, targetsOf, toNotification, type NotificationRow } from './rows.js';
import type { PublishRequest, PublishResult, TopicEvent } from './store.js';

// Keys first, then topics, each in name order, in every transaction: two nodes' batches
// wait on each other's locks in one order and cannot deadlock.
const CLAIM_KEYS = {
  name: 'herald_claim_keys',
  text: `insert into idempotency_keys (publisher, key, request_hash, response, created_at)
    select k.publisher, k.key, k.request_hash, '', $4
    from unnest($1::text[], $2::text[], $3::text[]) as k(publisher, key, request_hash)
    order by k.publisher, k.key
    on conflict (publisher, key) do nothing
    returning publisher, key`,
};
const READ_KEYS = {
  name: 'herald_read_keys',
  text: `select k.publisher, k.key, k.request_hash, k.response
    from idempotency_keys k join unnest($1::text[], $2::text[]) as u(publisher, key)
      on k.publisher = u.publisher and k.key = u.key`,
};
// One upsert moves every topic's head by its count in the batch; the batch's numbers on a
// topic are the `n` below the new head.
const ADVANCE_HEADS = {
  name: 'herald_advance_heads',
  text: `insert into topics (name, head)
    select t.name, t.n from unnest($1::text[], $2::int8[]) as t(name, n)
    order by t.name
    on conflict (name) do update set head = topics.head + excluded.head
    returning name, head`,
};
// Per-row columns in one set of arrays, per-publish columns (the content, once) in another.
const INSERT_NOTIFICATIONS = {
  name: 'herald_insert_notifications',
  text: `insert into notifications (id, topic, seq, recipient, type, title, content, data, publisher, created_at, critical, expires_at)
    select n.id, n.topic, n.seq, n.recipient, r.type, r.title, r.content, r.data, r.publisher, $11, r.critical, r.expires_at
    from unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::int8[]) with ordinality as n(id, topic, seq, recipient, req, ord)
    join unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $12::int4[], $13::text[]) with ordinality as r(type, title, content, data, publisher, critical, expires_at, req)
      on r.req = n.req
    order by n.ord`,
};
const STORE_IDS = {
  name: 'herald_store_ids',
  text: `update idempotency_keys k set response = u.response
    from unnest($1::text[], $2::text[], $3::text[]) as u(publisher, key, response)
    where k.publisher = u.publisher and k.key = u.key`,
};
// Which recipients of which publish muted its type: rows (publish, recipient) against each
// publish's muting entries (patternsMuting, space-separated: a type has no spaces).
const MUTING = {
  name: 'herald_muting',
  text: `select u.req, u.user_id
    from unnest($1::int4[], $2::text[]) as u(req, user_id)
    join unnest($3::text[]) with ordinality as p(patterns, req) on p.req = u.req
    where exists (select 1 from muted_types m where m.user_id = u.user_id and m.pattern = any(string_to_array(p.patterns, ' ')))`,
};
const BY_IDS = { name: 'herald_notifications_by_ids', text: 'select * from notifications where id = any($1::text[])' };

type Plan =
  | { kind: 'write' }
  | { kind: 'conflict' }
  /** The key was committed before: answer what it stored. */
  | { kind: 'stored'; response: string }
  /** The key's first use is in this batch: answer what that request wrote. */
  | { kind: 'same'; as: number };

export class PgPublishWriter implements BatchWriter<PublishRequest, PublishResult> {
  readonly #pool: pg.Pool;
  readonly #clock: Clock;

  /** `clock` dates what it stores (the nodes' shared, database-set time). */
  constructor(pool: pg.Pool, clock: Clock = systemClock) {
    this.#pool = pool;
    this.#clock = clock;
  }

  async write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('begin');
      const outcomes = await this.#publish(client, requests, new Date(this.#clock.now()).toISOString());
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

  async #publish(client: pg.PoolClient, requests: readonly PublishRequest[], now: string): Promise<Outcome<PublishResult>[]> {
    const plans = await this.#plan(client, requests, now);
    const muting = await this.#muting(client, requests, plans);

    // Sequence numbers: count per topic, move each head once, hand out in request order.
    const counts = new Map<string, number>();
    const targets = requests.map((request, i) => {
      if (plans[i]?.kind !== 'write') return [];
      const muted = muting.get(i);
      return muted ? targetsOf(request).filter((t) => !muted.has(t.recipient as string)) : targetsOf(request);
    });
    for (const list of targets) for (const { topic } of list) counts.set(topic, (counts.get(topic) ?? 0) + 1);
    const next = new Map<string, number>();
    if (counts.size > 0) {
      const heads = await client.query<{ name: string; head: number }>({ ...ADVANCE_HEADS, values: [[...counts.keys()], [...counts.values()]] });
      for (const row of heads.rows) next.set(row.name, Number(row.head) - (counts.get(row.name) as number) + 1);
    }

    const rowIds: string[] = [];
    const rowTopics: string[] = [];
    const rowSeqs: number[] = [];
    const rowRecipients: Array<string | null> = [];
    const rowRequests: number[] = [];
    const req = {
      type: [] as string[], title: [] as Array<string | null>, content: [] as string[], data: [] as Array<string | null>, publisher: [] as string[],
      critical: [] as number[], expiresAt: [] as Array<string | null>,
    };
    const written: Array<PublishResult | null> = requests.map(() => null);
    requests.forEach((request, i) => {
      const list = targets[i] as Array<{ topic: string; recipient: string | null }>;
      const muted = muting.get(i);
      const suppressed = muted ? (request.recipients as string[]).filter((r) => muted.has(r)) : [];
      // Every recipient suppressed (muted the type): nothing to store, but the key is claimed.
      if (list.length === 0) {
        if (plans[i]?.kind === 'write') written[i] = { events: [], replayed: false, suppressed };
        return;
      }
      const data = request.data === null ? null : JSON.stringify(request.data);
      const shared = data === null ? null : (JSON.parse(data) as Record<string, unknown>);
      req.type.push(request.type);
      req.title.push(request.title);
      req.content.push(request.content);
      req.data.push(data);
      req.publisher.push(request.publisher);
      req.critical.push(request.critical ? 1 : 0);
      req.expiresAt.push(request.expiresAt ?? null);
      const ordinal = req.type.length;
      const events: TopicEvent[] = [];
      for (const { topic, recipient } of list) {
        const seq = next.get(topic) as number;
        next.set(topic, seq + 1);
        const id = newNotificationId();
        rowIds.push(id);
        rowTopics.push(topic);
        rowSeqs.push(seq);
        rowRecipients.push(recipient);
        rowRequests.push(ordinal);
        events.push({ topic, seq, notification: newNotification(id, recipient, topic, request, shared, now) });
      }
      written[i] = { events, replayed: false, suppressed };
    });
    if (rowIds.length > 0) {
      await client.query({
        ...INSERT_NOTIFICATIONS,
        values: [rowIds, rowTopics, rowSeqs, rowRecipients, rowRequests, req.type, req.title, req.content, req.data, req.publisher, now, req.critical, req.expiresAt],
      });
    }

    const keyed = requests.flatMap((request, i) => (request.idempotencyKey !== null && written[i] ? [i] : []));
    if (keyed.length > 0) {
      // Only the ids: the replay reads the rows back, so a key costs ~40 bytes per notification.
      await client.query({
        ...STORE_IDS,
        values: [
          keyed.map((i) => (requests[i] as PublishRequest).publisher),
          keyed.map((i) => (requests[i] as PublishRequest).idempotencyKey),
          keyed.map((i) => JSON.stringify({ ids: (written[i] as PublishResult).events.map((e) => e.notification.id) })),
        ],
      });
    }

    const replays = await this.#storedEvents(client, plans);
    return plans.map((plan, i): Outcome<PublishResult> => {
      switch (plan.kind) {
        case 'write': return { ok: true, value: written[i] as PublishResult };
        case 'conflict': return { ok: false, error: new HeraldError('idempotency_conflict') };
        case 'same': return { ok: true, value: { events: (written[plan.as] as PublishResult).events, replayed: true } };
        case 'stored': return { ok: true, value: { events: replays.get(i) as TopicEvent[], replayed: true } };
      }
    });
  }

  /**
   * Which requests write, and which replay or conflict with an idempotency key: the first
   * request of the batch with a key claims it; a claim that finds the key taken waits, on
   * the key's unique index, until the publish that took it has committed.
   */
  async #plan(client: pg.PoolClient, requests: readonly PublishRequest[], now: string): Promise<Plan[]> {
    const firstWith = new Map<string, number>();
    requests.forEach((request, i) => {
      if (request.idempotencyKey === null) return;
      const k = keyOf(request.publisher, request.idempotencyKey);
      if (!firstWith.has(k)) firstWith.set(k, i);
    });
    if (firstWith.size === 0) return requests.map(() => ({ kind: 'write' }));

    const owners = [...firstWith.values()].map((i) => requests[i] as PublishRequest);
    const claimed = await client.query<{ publisher: string; key: string }>({
      ...CLAIM_KEYS,
      values: [owners.map((r) => r.publisher), owners.map((r) => r.idempotencyKey), owners.map((r) => r.requestHash), now],
    });
    const ours = new Set(claimed.rows.map((row) => keyOf(row.publisher, row.key)));
    const stored = new Map<string, { request_hash: string; response: string }>();
    const taken = owners.filter((r) => !ours.has(keyOf(r.publisher, r.idempotencyKey as string)));
    if (taken.length > 0) {
      const rows = await client.query<{ publisher: string; key: string; request_hash: string; response: string }>({
        ...READ_KEYS, values: [taken.map((r) => r.publisher), taken.map((r) => r.idempotencyKey)],
      });
      for (const row of rows.rows) stored.set(keyOf(row.publisher, row.key), row);
    }

    return requests.map((request, i): Plan => {
      if (request.idempotencyKey === null) return { kind: 'write' };
      const k = keyOf(request.publisher, request.idempotencyKey);
      const first = firstWith.get(k) as number;
      if (ours.has(k)) {
        if (first === i) return { kind: 'write' };
        return (requests[first] as PublishRequest).requestHash === request.requestHash ? { kind: 'same', as: first } : { kind: 'conflict' };
      }
      const existing = stored.get(k);
      if (!existing) throw new Error(`idempotency key ${JSON.stringify(request.idempotencyKey)} was neither claimed nor found`);
      return existing.request_hash === request.requestHash ? { kind: 'stored', response: existing.response } : { kind: 'conflict' };
    });
  }

  /**
   * Per request that writes to recipients (and is not critical), the recipients who muted
   * its type: one query for the batch, in its transaction, so a committed PUT is seen.
   */
  async #muting(client: pg.PoolClient, requests: readonly PublishRequest[], plans: readonly Plan[]): Promise<Map<number, Set<string>>> {
    const reqs: number[] = [];
    const users: string[] = [];
    const patterns: string[] = [];
    requests.forEach((request, i) => {
      patterns.push(patternsMuting(request.type).join(' '));
      if (plans[i]?.kind !== 'write' || request.recipients === null || request.critical) return;
      for (const user of request.recipients) {
        reqs.push(i + 1);
        users.push(user);
      }
    });
    const muting = new Map<number, Set<string>>();
    if (users.length === 0) return muting;
    const rows = await client.query<{ req: number; user_id: string }>({ ...MUTING, values: [reqs, users, patterns] });
    for (const row of rows.rows) {
      const i = Number(row.req) - 1;
      const set = muting.get(i) ?? new Set<string>();
      set.add(row.user_id);
      muting.set(i, set);
    }
    return muting;
  }

  /** The events each replayed key answered with, read back from their ids in one query. */
  async #storedEvents(client: pg.PoolClient, plans: readonly Plan[]): Promise<Map<number, TopicEvent[]>> {
    const answers = new Map<number, TopicEvent[] | string[]>();
    plans.forEach((plan, i) => {
      if (plan.kind !== 'stored') return;
      const stored = JSON.parse(plan.response) as { ids: string[] } | TopicEvent[];
      // Keys written before ids were stored compactly hold the whole answer.
      answers.set(i, Array.isArray(stored) ? stored : stored.ids);
    });
    const wanted = [...answers.values()].flatMap((answer) => answer.filter((x): x is string => typeof x === 'string'));
    const byId = new Map<string, TopicEvent>();
    if (wanted.length > 0) {
      const rows = await client.query<NotificationRow>({ ...BY_IDS, values: [[...new Set(wanted)]] });
      for (const row of rows.rows) byId.set(row.id, { topic: row.topic, seq: Number(row.seq), notification: toNotification(row, null) });
    }
    const events = new Map<number, TopicEvent[]>();
    for (const [i, answer] of answers) {
      events.set(i, answer.flatMap((x) => (typeof x === 'string' ? byId.get(x) ?? [] : [x])));
    }
    return events;
  }
}

function keyOf(publisher: string, key: string): string {
  return JSON.stringify([publisher, key]);
}

/** PostgreSQL text cannot hold U+0000 (SQLite can): the request's fault, not the server's. */
export function refusedText(err: unknown): HeraldError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== '22021' && code !== '22P05') return null;
  return new HeraldError('invalid_request', 'Text fields must not contain the NUL character (U+0000).');
}
