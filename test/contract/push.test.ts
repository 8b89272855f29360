// The Web Push part of the NotificationStore contract, run against every backend:
// subscriptions per user, the push queue the publish transaction (and scheduled delivery)
// feeds, claims with a lease, decisions and settlements, presence, and retention.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import type { KyselyNotificationStore } from '../../src/store/kysely-store.js';
import type { SubscriptionInput } from '../../src/store/push-store.js';
import type { NotificationStore } from '../../src/store/store.js';
import { backends } from './backends.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };
const PUSH = { push: { delayMs: 10_000 } };

function request(body: Record<string, unknown>) {
  return toPublishRequest({ type: 'alert', content: 'hello', ...body }, 'app', LIMITS);
}

function subscription(n: number): SubscriptionInput {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint: `https://fcm.googleapis.com/fcm/send/sub-${n}-${randomBytes(4).toString('hex')}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url'), expirationTime: null };
}

const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

async function queued(store: NotificationStore) {
  return (store as KyselyNotificationStore).db.selectFrom('push_queue').selectAll().orderBy('id').execute();
}

for (const backend of backends) {
  describe(`Web Push in the NotificationStore on ${backend.name}`, () => {
    test('a subscription is stored for its user, listed for that user only, and found by id', async (t) => {
      const store = await backend.open(t);
      const saved = await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      assert.equal(saved.created, true);
      await store.push().saveSubscription('bob', subscription(2), iso(), 20);
      assert.deepEqual((await store.push().subscriptionsOf('alice')).map((s) => s.id), [saved.subscription.id]);
      assert.equal((await store.push().subscriptionsByIds([saved.subscription.id])).get(saved.subscription.id)?.user_id, 'alice');
    });

    test('the same endpoint posted by another user moves to that user, and what was queued for the first owner goes', async (t) => {
      const store = await backend.open(t, PUSH);
      const input = subscription(1);
      const first = await store.push().saveSubscription('alice', input, iso(), 20);
      await store.publish(request({ recipients: ['alice'], push: 'always' }));
      const [decision] = await store.push().claim(iso(), iso(60_000), 10);
      await store.push().decide([{ job: decision!, subscriptionIds: [first.subscription.id] }], iso());
      assert.equal((await queued(store)).length, 1);
      const again = await store.push().saveSubscription('bob', { ...input, auth: randomBytes(16).toString('base64url') }, iso(), 20);
      assert.equal(again.created, false);
      assert.equal(again.subscription.id, first.subscription.id);
      assert.deepEqual(await store.push().subscriptionsOf('alice'), []);
      assert.equal((await store.push().subscriptionsOf('bob'))[0]?.auth, again.subscription.auth);
      assert.deepEqual(await queued(store), []);
    });

    test('a user keeps their newest subscriptions: one beyond the bound replaces the oldest', async (t) => {
      const store = await backend.open(t);
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await store.push().saveSubscription('alice', subscription(i), iso(i), 3)).subscription.id);
      assert.deepEqual((await store.push().subscriptionsOf('alice')).map((s) => s.id), ids.slice(1));
    });

    test('deleting another user\'s subscription finds nothing and leaves it', async (t) => {
      const store = await backend.open(t);
      const saved = await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      assert.equal(await store.push().deleteSubscription('bob', saved.subscription.id), false);
      assert.equal(await store.push().deleteSubscription('alice', saved.subscription.id), true);
      assert.deepEqual(await store.push().subscriptionsOf('alice'), []);
    });

    test('a publish queues a decision for each recipient with a subscription, due after the delay for auto and at once for always', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      await store.push().saveSubscription('bob', subscription(2), iso(), 20);
      const auto = await store.publish(request({ recipients: ['alice', 'carol'] }));
      const always = await store.publish(request({ recipients: ['bob'], push: 'always' }));
      const rows = await queued(store);
      assert.deepEqual(rows.map((r) => [r.user_id, r.notification_id, r.policy, r.subscription_id]), [
        ['alice', auto.events[0]?.notification.id, 'auto', null],
        ['bob', always.events[0]?.notification.id, 'always', null],
      ]);
      const created = Date.parse(auto.events[0]!.notification.created_at);
      assert.equal(Date.parse(rows[0]!.due_at) - created, 10_000);
      assert.equal(rows[1]!.due_at, always.events[0]?.notification.created_at);
    });

    test('push "never" and a topic queue nothing', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      await store.publish(request({ recipients: ['alice'], push: 'never' }));
      await store.publish(request({ topic: 'broadcast' }));
      assert.deepEqual(await queued(store), []);
    });

    test('a store with push off queues nothing', async (t) => {
      const off = await backend.open(t);
      await off.push().saveSubscription('alice', subscription(2), iso(), 20);
      await off.publish(request({ recipients: ['alice'] }));
      assert.deepEqual(await queued(off), []);
    });

    test('a scheduled notification queues its push when delivered, with the policy it was published with', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      const scheduled = await store.publish(request({ recipients: ['alice'], push: 'always', deliver_at: iso(1000) }));
      assert.deepEqual(await queued(store), []);
      const at = iso(2000);
      assert.equal((await store.deliverDue(at, 10)).length, 1);
      const rows = await queued(store);
      assert.deepEqual(rows.map((r) => [r.notification_id, r.policy, r.due_at, r.created_at]), [[scheduled.scheduled?.[0]?.notification.id, 'always', at, at]]);
    });

    test('a claimed row is leased: no other claim takes it until the lease runs out, then one does', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      await store.publish(request({ recipients: ['alice'], push: 'always' }));
      assert.equal((await store.push().claim(iso(), iso(60_000), 10)).length, 1);
      assert.equal(await store.push().anyDue(iso(1000)), false);
      assert.deepEqual(await store.push().claim(iso(1000), iso(61_000), 10), []);
      assert.equal((await store.push().claim(iso(60_001), iso(120_000), 10)).length, 1);
    });

    test('two claims at once take disjoint rows', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      for (let i = 0; i < 20; i++) await store.publish(request({ recipients: ['alice'], push: 'always' }));
      const [a, b] = await Promise.all([store.push().claim(iso(), iso(60_000), 15), store.push().claim(iso(), iso(60_000), 15)]);
      const ids = [...a!, ...b!].map((r) => r.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    });

    test('a decision turns into one send per subscription; one whose lease was lost turns into nothing', async (t) => {
      const store = await backend.open(t, PUSH);
      const one = await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      const two = await store.push().saveSubscription('alice', subscription(2), iso(1), 20);
      await store.publish(request({ recipients: ['alice'], push: 'always' }));
      const [job] = await store.push().claim(iso(), iso(60_000), 10);
      const stale = { ...job!, due_at: iso(-1) };
      assert.deepEqual(await store.push().decide([{ job: stale, subscriptionIds: [one.subscription.id] }], iso()), []);
      const sends = await store.push().decide([{ job: job!, subscriptionIds: [one.subscription.id, two.subscription.id] }], iso());
      assert.deepEqual(sends.map((s) => s.subscription_id).sort(), [one.subscription.id, two.subscription.id].sort());
      assert.deepEqual((await queued(store)).map((r) => r.subscription_id).sort(), [one.subscription.id, two.subscription.id].sort());
    });

    test('a settlement deletes finished rows, moves retried ones with one attempt more, and drops gone subscriptions with their rows', async (t) => {
      const store = await backend.open(t, PUSH);
      const subs = [];
      for (let i = 0; i < 3; i++) subs.push((await store.push().saveSubscription('alice', subscription(i), iso(i), 20)).subscription.id);
      await store.publish(request({ recipients: ['alice'], push: 'always' }));
      const [job] = await store.push().claim(iso(), iso(60_000), 10);
      const [done, retried, gone] = await store.push().decide([{ job: job!, subscriptionIds: subs }], iso());
      const later = iso(5000);
      await store.push().settle({ finished: [done!.id], retries: [[retried!.id, later]], goneSubscriptions: [gone!.subscription_id as string] });
      assert.deepEqual((await queued(store)).map((r) => [r.id, r.due_at, r.attempts]), [[retried!.id, later, 1]]);
      assert.deepEqual((await store.push().subscriptionsOf('alice')).map((s) => s.id), subs.slice(0, 2));
    });

    test('presence is recorded for users with a subscription only, and the latest time of any node is found', async (t) => {
      const store = await backend.open(t);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      await store.push().recordPresence('node-a', [['alice', '2026-01-01T00:00:01.000Z'], ['bob', '2026-01-01T00:00:09.000Z']]);
      await store.push().recordPresence('node-b', [['alice', '2026-01-01T00:00:05.000Z']]);
      await store.push().recordPresence('node-a', [['alice', '2026-01-01T00:00:02.000Z']]);
      assert.deepEqual([...await store.push().lastPresence(['alice', 'bob'])], [['alice', '2026-01-01T00:00:05.000Z']]);
    });

    test('the recipient\'s own read state comes with a queued notification; another user\'s notification is not found', async (t) => {
      const store = await backend.open(t, PUSH);
      const { events } = await store.publish(request({ recipients: ['alice'] }));
      const id = events[0]!.notification.id;
      await store.updateState({ user: 'alice', topics: ['user:alice'] }, id, { status: 'read' });
      const found = await store.push().notificationsFor([['alice', id], ['bob', id]]);
      assert.equal(found.size, 1);
      assert.notEqual(found.get(id)?.notification.read_at, null);
      assert.equal((await store.push().notificationsFor([['bob', id]])).size, 0);
    });

    test('retention deletes subscriptions past their expiration time with what is queued for them, and stale presence', async (t) => {
      const store = await backend.open(t, PUSH);
      const ended = await store.push().saveSubscription('alice', { ...subscription(1), expirationTime: iso(-1000) }, iso(), 20);
      await store.push().saveSubscription('alice', { ...subscription(2), expirationTime: iso(3600_000) }, iso(), 20);
      await store.push().recordPresence('node-a', [['alice', iso(-3 * 24 * 3600_000)]]);
      const pass = await store.retention().purgePush(new Date(), 100);
      assert.equal(pass, 2);
      assert.equal((await store.push().subscriptionsOf('alice')).some((s) => s.id === ended.subscription.id), false);
      assert.equal((await store.push().subscriptionsOf('alice')).length, 1);
      assert.deepEqual([...await store.push().lastPresence(['alice'])], []);
    });

    test('queue depth, the oldest row and the subscriptions are counted', async (t) => {
      const store = await backend.open(t, PUSH);
      await store.push().saveSubscription('alice', subscription(1), iso(), 20);
      const { events } = await store.publish(request({ recipients: ['alice'] }));
      assert.deepEqual(await store.push().stats(), { depth: 1, oldestCreatedAt: events[0]?.notification.created_at, subscriptions: 1 });
    });
  });
}
