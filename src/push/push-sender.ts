// The push sender: takes due rows of the durable push queue (src/store/push-store.ts),
// decides each queued notification (push-policy.ts), and sends one encrypted push per
// subscription (RFC 8291 aes128gcm with VAPID, RFC 8292, through web-push's
// generateRequestDetails) over Herald's own client (push-client.ts). It is one
// self-contained part with start() and close(): createHerald starts one per process, and
// any number of processes or nodes may run one, since each row is claimed by one of them.
//
// A row is claimed by moving its due time a lease ahead; the sends of a batch are recorded
// together once answered. A node that dies mid-way leaves its rows to another when the
// lease runs out: a push may then go twice (the push service's `Topic` and the service
// worker's tag make the second replace the first on the device), never not at all.
import webpush from 'web-push';
import { audienceFor } from '../domain/topics.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PushJob, PushStore, PushSubscriptionRow, PushedNotification, PushDecision, PushSettlement } from '../store/push-store.js';
import type { NotificationStore } from '../store/store.js';
import type { VapidKeys } from './vapid-keys.js';
import { EndpointRefused, type PushClient } from './push-client.js';
import { pushPayload } from './push-payload.js';
import { answerMeans, remainingTtlS, retryDelayMs, skipReason, stateSkip, type SendResult } from './push-policy.js';
import type { ReadTokens } from './read-token.js';

/** The shortest time a claimed batch is this node's (longer when its sends could take longer, see #leaseMs). */
export const LEASE_MS = 5 * 60_000;
/** A read token outlives its push's TTL by this much: a click on a push shown late still marks it read. */
const READ_TOKEN_GRACE_MS = 3600_000;
/** A VAPID token is signed for this long (RFC 8292 allows 24 h) and reused per push service until an hour before it ends. */
const VAPID_TOKEN_S = 12 * 3600;
const VAPID_RENEW_MS = 3600_000;

export interface PushSenderOptions {
  delayMs: number;
  ttlS: number;
  concurrency: number;
  /** The inbox page, opened on click when a notification's data.url is not an https URL. */
  inboxUrl: string;
  vapid: VapidKeys & { subject: string };
  /** Longest wait for one push service's answer, ms (HERALD_PUSH_TIMEOUT_MS). */
  timeoutMs: number;
  /** Rows claimed per pass (default: 16 × concurrency: fewer, larger transactions). */
  batchSize?: number;
  /** Longest pause between two looks at the queue, ms (default: a quarter of the delay, 50..1000). */
  pollMs?: number;
}

export interface PushSenderDeps {
  store: NotificationStore;
  client: PushClient;
  readTokens: ReadTokens;
  /** This node's own knowledge of its open streams (exact, where its record in the store may lag); null: it holds none. */
  presence: { node: string; seenHereSince(user: string, sinceMs: number): boolean } | null;
  metrics: Metrics;
  log: Logger;
  clock?: Clock;
  options: PushSenderOptions;
}

export class PushSender {
  readonly #deps: PushSenderDeps;
  readonly #push: PushStore;
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #pollMs: number;
  /** How long a claim holds its rows: twice what a batch whose every send times out would take. */
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;
  #again = false;
  #closed = false;
  /** The VAPID Authorization header per push service origin (its `aud`), and when it stops being used. */
  readonly #vapidHeaders = new Map<string, { header: string; renewAt: number }>();

  constructor(deps: PushSenderDeps) {
    this.#deps = deps;
    this.#push = deps.store.push();
    this.#clock = deps.clock ?? systemClock;
    this.#batchSize = deps.options.batchSize ?? deps.options.concurrency * 16;
    this.#pollMs = deps.options.pollMs ?? Math.min(1000, Math.max(50, Math.floor(deps.options.delayMs / 4)));
    this.#leaseMs = Math.max(LEASE_MS, 2 * Math.ceil(this.#batchSize / deps.options.concurrency) * deps.options.timeoutMs);
  }

  start(): void {
    this.#arm(0);
  }

  /** A push is due now (a publish with `push: "always"`): look at once rather than at the next poll. */
  wake(): void {
    if (this.#timer === null || this.#closed) return;
    this.#arm(0);
  }

  /** Sends everything due at the clock's now, batch after batch; answers how many rows it handled. */
  runOnce(): Promise<number> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      let handled = 0;
      do {
        this.#again = false;
        for (;;) {
          if (this.#closed) break;
          const n = await this.#pass();
          handled += n;
          if (n < this.#batchSize) break;
        }
      } while (this.#again && !this.#closed);
      return handled;
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
    this.#deps.client.close();
  }

  #arm(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.runOnce()
        .catch((err: unknown) => this.#deps.log.warn({ err }, 'push pass failed; retrying shortly'))
        .finally(() => this.#arm(this.#pollMs));
    }, delayMs);
    this.#timer.unref();
  }

  /** One batch: claim, decide the new ones, send. Answers how many rows were claimed. */
  async #pass(): Promise<number> {
    const now = this.#clock.now();
    const nowIso = new Date(now).toISOString();
    if (!(await this.#push.anyDue(nowIso))) return 0;
    const jobs = await this.#push.claim(nowIso, new Date(now + this.#leaseMs).toISOString(), this.#batchSize);
    if (jobs.length === 0) return 0;
    const decisions = jobs.filter((job) => job.subscription_id === null);
    const retries = jobs.filter((job) => job.subscription_id !== null);
    const sends = [...retries, ...(await this.#decide(decisions, now))];
    await this.#send(sends);
    return jobs.length;
  }

  /** Decides each queued notification and turns the ones to push into sends, in one write. */
  async #decide(jobs: readonly PushJob[], now: number): Promise<PushJob[]> {
    if (jobs.length === 0) return [];
    const nowIso = new Date(now).toISOString();
    const users = [...new Set(jobs.map((job) => job.user_id))];
    const found = await this.#push.notificationsFor(jobs.map((job) => [job.user_id, job.notification_id] as const));
    const [subscriptions, presence, muted] = await Promise.all([
      this.#push.subscriptionsOfUsers(users),
      // Other nodes' records; this node's own streams are answered from its memory.
      this.#push.lastPresence(jobs.filter((job) => job.policy !== 'always').map((job) => job.user_id), this.#deps.presence?.node),
      this.#muted(jobs, found),
    ]);
    const decisions: PushDecision[] = jobs.map((job) => {
      const pushed = found.get(job.notification_id);
      const subs = subscriptions.get(job.user_id) ?? [];
      const reason = skipReason({
        policy: job.policy, queuedAt: job.created_at, pushed, now: nowIso, subscriptions: subs.length,
        muted: muted.has(`${job.user_id}\n${job.notification_id}`),
        presentUntil: presence.get(job.user_id),
        seenHere: job.policy !== 'always' && (this.#deps.presence?.seenHereSince(job.user_id, Date.parse(job.created_at)) ?? false),
      });
      if (reason !== null) this.#deps.metrics.pushSkipped.inc({ reason });
      return { job, subscriptionIds: reason === null ? subs.map((s) => s.id) : [] };
    });
    return this.#push.decide(decisions, nowIso);
  }

  /** `${user}\n${notification id}` of the jobs whose recipient muted the notification's type now. */
  async #muted(jobs: readonly PushJob[], found: ReadonlyMap<string, PushedNotification>): Promise<Set<string>> {
    const usersByType = new Map<string, Set<string>>();
    for (const job of jobs) {
      const type = found.get(job.notification_id)?.notification.type;
      if (type === undefined) continue;
      const users = usersByType.get(type) ?? new Set<string>();
      users.add(job.user_id);
      usersByType.set(type, users);
    }
    const muting = new Set<string>();
    for (const [type, users] of usersByType) {
      const who = await this.#deps.store.usersMuting([...users], type);
      for (const job of jobs) if (who.has(job.user_id) && found.get(job.notification_id)?.notification.type === type) muting.add(`${job.user_id}\n${job.notification_id}`);
    }
    return muting;
  }

  /** Sends a batch, at most `concurrency` at once, and records what came of each in one write. */
  async #send(jobs: readonly PushJob[]): Promise<void> {
    if (jobs.length === 0) return;
    const [found, subscriptions] = await Promise.all([
      this.#push.notificationsFor(jobs.map((job) => [job.user_id, job.notification_id] as const)),
      this.#push.subscriptionsByIds(jobs.map((job) => job.subscription_id as string)),
    ]);
    const badges = await this.#unreadCounts([...new Set(jobs.map((job) => job.user_id))]);
    const settlement: PushSettlement = { finished: [], retries: [], goneSubscriptions: [] };
    const gone = new Set<string>();
    await eachLimited(jobs, this.#deps.options.concurrency, async (job) => {
      const result = await this.#sendOne(job, found.get(job.notification_id), subscriptions.get(job.subscription_id as string), badges.get(job.user_id) ?? 0, settlement);
      if (result === 'gone' && !gone.has(job.subscription_id as string)) {
        gone.add(job.subscription_id as string);
        settlement.goneSubscriptions.push(job.subscription_id as string);
      }
    });
    await this.#push.settle(settlement);
  }

  async #sendOne(
    job: PushJob, pushed: PushedNotification | undefined, subscription: PushSubscriptionRow | undefined, badge: number, settlement: PushSettlement,
  ): Promise<SendResult | 'skipped'> {
    const { metrics, log, options } = this.#deps;
    const now = this.#clock.now();
    const nowIso = new Date(now).toISOString();
    const skip = !pushed ? 'gone' : subscription === undefined ? 'no_subscription' : job.policy === 'always' ? null : stateSkip(pushed, nowIso);
    if (skip !== null || !pushed || !subscription) {
      // Read meanwhile (a retry), or the subscription or notification is gone.
      if (skip) metrics.pushSkipped.inc({ reason: skip });
      settlement.finished.push(job.id);
      return 'skipped';
    }
    const ttl = remainingTtlS(Date.parse(job.created_at), options.ttlS, pushed.notification.expires_at, now);
    if (ttl === null) {
      metrics.pushSent.inc({ result: 'expired' });
      settlement.finished.push(job.id);
      return 'expired';
    }
    let status: number | null = null;
    let retryAfterMs: number | null = null;
    try {
      const details = await this.#request(job, pushed, subscription, badge, ttl, now);
      const answer = await this.#deps.client.send({ endpoint: subscription.endpoint, headers: details.headers, body: details.body });
      status = answer.status;
      retryAfterMs = answer.retryAfterMs;
    } catch (err) {
      if (err instanceof EndpointRefused) {
        log.warn({ subscription: subscription.id, reason: err.message }, 'push endpoint refused by the origin guard; no request made');
        metrics.pushSent.inc({ result: 'refused' });
        settlement.finished.push(job.id);
        return 'refused';
      }
      log.info({ err, subscription: subscription.id }, 'push service did not answer; will retry');
    }
    const means = answerMeans(status);
    if (means === 'retry') {
      // Retry-After counts from the answer, not from when the request was made.
      const at = this.#clock.now() + retryDelayMs(job.attempts, retryAfterMs);
      if (remainingTtlS(Date.parse(job.created_at), options.ttlS, pushed.notification.expires_at, at) === null) {
        metrics.pushSent.inc({ result: 'expired' });
        settlement.finished.push(job.id);
        return 'expired';
      }
      metrics.pushSent.inc({ result: 'retried' });
      settlement.retries.push([job.id, new Date(at).toISOString()]);
      return 'retried';
    }
    settlement.finished.push(job.id);
    if (means === 'sent') {
      metrics.pushSent.inc({ result: 'sent' });
      metrics.pushLatency.observe(Math.max(0, now - Date.parse(pushed.notification.created_at)) / 1000);
      return 'sent';
    }
    if (means === 'gone') {
      metrics.pushSent.inc({ result: 'gone' });
      return 'gone';
    }
    log.warn({ status, subscription: subscription.id, notification: job.notification_id }, 'push service refused a push; dropped');
    metrics.pushSent.inc({ result: 'dropped' });
    return 'dropped';
  }

  /** The encrypted request: payload (push-payload.ts), VAPID, TTL, urgency, and a Topic so a repeat replaces the first. */
  async #request(job: PushJob, pushed: PushedNotification, subscription: PushSubscriptionRow, badge: number, ttlS: number, now: number) {
    const { options, readTokens } = this.#deps;
    const readToken = await readTokens.mint({ user: job.user_id, notificationId: job.notification_id }, now + ttlS * 1000 + READ_TOKEN_GRACE_MS);
    const payload = pushPayload({ notification: pushed.notification, unreadCount: badge, readToken, inboxUrl: options.inboxUrl });
    // No vapidDetails (nor web-push's global ones, never set): the Authorization header is
    // VAPID's, from a token signed once per push service rather than once per push.
    const details = webpush.generateRequestDetails(
      { endpoint: subscription.endpoint, keys: { p256dh: subscription.p256dh, auth: subscription.auth } },
      payload,
      {
        headers: { Authorization: this.#vapidHeader(new URL(subscription.endpoint).origin, now) },
        TTL: ttlS,
        urgency: pushed.critical ? 'high' : 'normal',
        // RFC 8030 §5.4: at most 32 base64url characters; a UUID's hex digits are 32.
        topic: job.notification_id.replace(/-/g, '').slice(0, 32),
        contentEncoding: 'aes128gcm',
      },
    );
    return { headers: details.headers as Record<string, string | number>, body: details.body };
  }

  /** `vapid t=…, k=…` for a push service: web-push signs it (ES256, `aud` its origin); reused until an hour before it expires. */
  #vapidHeader(audience: string, now: number): string {
    const cached = this.#vapidHeaders.get(audience);
    if (cached && cached.renewAt > now) return cached.header;
    const { vapid } = this.#deps.options;
    const expiresAtS = Math.floor(now / 1000) + VAPID_TOKEN_S;
    const header = webpush.getVapidHeaders(audience, vapid.subject, vapid.publicKey, vapid.privateKey, 'aes128gcm', expiresAtS).Authorization;
    this.#vapidHeaders.set(audience, { header, renewAt: expiresAtS * 1000 - VAPID_RENEW_MS });
    return header;
  }

  /** Each user's unread count now: the badge a push sets (private and broadcast notifications; groups are a token's, unknown here). */
  async #unreadCounts(users: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await eachLimited(users, 8, async (user) => {
      counts.set(user, (await this.#deps.store.unreadSnapshot(audienceFor(user, []))).unread);
    });
    return counts;
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
