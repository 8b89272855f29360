// The preference part of the NotificationStore contract, run against every backend: muted
// types, the recipients a publish suppresses, and topic notifications hidden from readers
// who muted their type (list, count, replay).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeMutes } from '../../src/domain/preferences.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import type { Audience, InboxQuery } from '../../src/store/store.js';
import { backends } from './backends.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };

function request(body: Record<string, unknown>) {
  return toPublishRequest({ type: 'alert', content: 'hello', ...body }, 'app', LIMITS);
}

function audience(user: string): Audience {
  return { user, topics: [`user:${user}`, 'broadcast'] };
}

const ALL: InboxQuery = { status: 'all', type: null, archived: false, limit: 50, before: null };

for (const backend of backends) {
  describe(`preferences in the NotificationStore on ${backend.name}`, () => {
    test('a user who never muted anything has no muted types', async (t) => {
      const store = await backend.open(t);
      assert.deepEqual(await store.mutedTypes('alice'), []);
    });

    test('setting muted types replaces the earlier ones, for that user only', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo', 'social.*']);
      await store.setMutedTypes('bob', ['alert']);
      await store.setMutedTypes('alice', ['digest']);
      assert.deepEqual(await store.mutedTypes('alice'), ['digest']);
      assert.deepEqual(await store.mutedTypes('bob'), ['alert']);
    });

    test('two replacements of one user\'s muted types at once leave exactly one of the two lists', async (t) => {
      const store = await backend.open(t);
      // Disjoint lists: any mix of them is neither. Many rounds, as the interleaving that
      // would mix them is a race; a store that mixes them does so within a few.
      const first = normalizeMutes(Array.from({ length: 20 }, (_, i) => `first.${i}`));
      const second = normalizeMutes(Array.from({ length: 20 }, (_, i) => `second.${i}`));
      for (let round = 0; round < 40; round++) {
        await Promise.all([store.setMutedTypes('alice', first), store.setMutedTypes('alice', second)]);
        const stored = await store.mutedTypes('alice');
        assert.ok(stored.join() === first.join() || stored.join() === second.join(),
          `round ${round}: stored ${stored.length} entries (${stored.slice(0, 3).join(', ')}, …), neither list alone`);
      }
    });

    test('muted types read back in the order normalizeMutes answered them, whatever the collation', async (t) => {
      const store = await backend.open(t);
      const list = normalizeMutes(['ab', 'a_b', 'a.c', 'a-b', 'a.*']);
      await store.setMutedTypes('alice', list);
      assert.deepEqual(await store.mutedTypes('alice'), list);
    });

    test('usersMuting finds the recipients who muted a type exactly or by a prefix', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['social.like']);
      await store.setMutedTypes('bob', ['social.*']);
      await store.setMutedTypes('carol', ['promo']);
      const users = ['alice', 'bob', 'carol', 'dave', ...Array.from({ length: 996 }, (_, i) => `u${i}`)];
      assert.deepEqual([...await store.usersMuting(users, 'social.like')].sort(), ['alice', 'bob']);
    });

    test('usersMuting does not treat _ in a muted prefix as a wildcard', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['a_b.*']);
      assert.deepEqual([...await store.usersMuting(['alice'], 'axb.c')], []);
    });

    test('a topic notification of a muted type is left out of the muting reader\'s list', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      await store.publish(request({ topic: 'broadcast', type: 'promo', content: 'sale' }));
      await store.publish(request({ topic: 'broadcast', type: 'alert', content: 'fire' }));
      assert.deepEqual((await store.listInbox(audience('alice'), ALL)).items.map((n) => n.content), ['fire']);
      assert.deepEqual((await store.listInbox(audience('bob'), ALL)).items.map((n) => n.content), ['fire', 'sale']);
    });

    test('a topic notification of a muted type is left out of the muting reader\'s count', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['social.*']);
      await store.publish(request({ topic: 'broadcast', type: 'social.like' }));
      await store.publish(request({ topic: 'broadcast', type: 'alert' }));
      const snapshot = await store.unreadSnapshot(audience('alice'));
      assert.equal(snapshot.unread, 1);
      assert.deepEqual(snapshot.mutedTypes, ['social.*']);
      assert.equal(snapshot.heads.get('broadcast'), 2, 'heads still count every position');
      assert.equal((await store.unreadSnapshot(audience('bob'))).unread, 2);
    });

    test('the muting reader\'s count is what their unread list shows, for exact types, prefixes, and entries inside other entries', async (t) => {
      const store = await backend.open(t);
      // Stored before the mute: a private notification is never hidden by a later one.
      await store.publish(request({ recipients: ['alice'], type: 'social.like', content: 'private' }));
      await store.setMutedTypes('alice', ['social.*', 'social.like', 'social.like.*', 'promo', 'a_b.*', 'x.y.*']);
      const hidden = ['social.like', 'social.like.big', 'social.x', 'promo', 'a_b.c', 'x.y.z'];
      const shown = ['social', 'socialite', 'social-x', 'promo.x', 'promotion', 'axb.c', 'x.y', 'x.yz'];
      for (const type of [...hidden, ...shown]) await store.publish(request({ topic: 'broadcast', type, content: type }));
      await store.publish(request({ topic: 'broadcast', type: 'social.like', content: 'critical', critical: true }));
      await store.publish(request({ topic: 'group:staff', type: 'alert', content: 'not followed' }));
      const unreadList = await store.listInbox(audience('alice'), { ...ALL, status: 'unread' });
      assert.deepEqual(unreadList.items.map((n) => n.content).sort(), [...shown, 'critical', 'private'].sort());
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, shown.length + 2);
      assert.equal((await store.unreadSnapshot(audience('bob'))).unread, hidden.length + shown.length + 1);
    });

    test('reading, archiving or snoozing a hidden notification leaves the muting reader\'s count as it is; reading a critical one lowers it', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      const [hidden, shown, critical] = await Promise.all([
        store.publish(request({ topic: 'broadcast', type: 'promo', content: 'hidden' })),
        store.publish(request({ topic: 'broadcast', type: 'alert', content: 'shown' })),
        store.publish(request({ topic: 'broadcast', type: 'promo', content: 'critical', critical: true })),
      ]);
      const idOf = (result: typeof hidden) => result?.events[0]?.notification.id as string;
      const count = async () => (await store.unreadSnapshot(audience('alice'))).unread;
      assert.equal(await count(), 2);
      await store.updateState(audience('alice'), idOf(hidden), { status: 'read' });
      await store.updateState(audience('alice'), idOf(hidden), { archived: true });
      await store.updateState(audience('alice'), idOf(hidden), { snoozedUntil: new Date(Date.now() + 3_600_000).toISOString() });
      assert.equal(await count(), 2);
      await store.updateState(audience('alice'), idOf(critical), { status: 'read' });
      assert.equal(await count(), 1);
      await store.updateState(audience('alice'), idOf(shown), { snoozedUntil: new Date(Date.now() + 3_600_000).toISOString() });
      assert.equal(await count(), 0);
      await store.setMutedTypes('alice', []);
      assert.equal(await count(), 0, 'the hidden one is read, archived and snoozed once shown');
    });

    test('a topic notification of a muted type is left out of the muting reader\'s replay, not of the unfiltered read', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      await store.publish(request({ topic: 'broadcast', type: 'alert', content: 'one' }));
      await store.publish(request({ topic: 'broadcast', type: 'promo', content: 'two' }));
      await store.publish(request({ topic: 'broadcast', type: 'alert', content: 'three' }));
      assert.deepEqual((await store.eventsAfter('broadcast', 0, 10, 'alice')).map((e) => [e.seq, e.notification.content]), [[1, 'one'], [3, 'three']]);
      assert.deepEqual((await store.eventsAfter('broadcast', 0, 10)).map((e) => e.seq), [1, 2, 3]);
    });

    test('a critical topic notification stays visible to a reader who muted its type', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      await store.publish(request({ topic: 'broadcast', type: 'promo', content: 'recall', critical: true }));
      assert.deepEqual((await store.listInbox(audience('alice'), ALL)).items.map((n) => n.content), ['recall']);
      assert.equal((await store.unreadSnapshot(audience('alice'))).unread, 1);
      const [event] = await store.eventsAfter('broadcast', 0, 10, 'alice');
      assert.equal(event?.critical, true);
    });

    test('read-all leaves hidden topic notifications as they are', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      await store.publish(request({ topic: 'broadcast', type: 'promo', content: 'hidden' }));
      await store.publish(request({ topic: 'broadcast', type: 'alert', content: 'shown' }));
      assert.equal(await store.markAll(audience('alice'), 'read', null), 1);
      await store.setMutedTypes('alice', []);
      const unread = await store.listInbox(audience('alice'), { ...ALL, status: 'unread' });
      assert.deepEqual(unread.items.map((n) => n.content), ['hidden']);
    });

    test('a muted prefix with _ hides only the types it names, not those LIKE would match', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['a_b.*']);
      await store.publish(request({ topic: 'broadcast', type: 'axb.c', content: 'kept' }));
      await store.publish(request({ topic: 'broadcast', type: 'a_b.c', content: 'hidden' }));
      assert.deepEqual((await store.listInbox(audience('alice'), ALL)).items.map((n) => n.content), ['kept']);
    });

    test('a publish whose recipients all muted its type claims its key and replays an empty answer', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['alert']);
      const keyed = request({ recipients: ['alice'], idempotency_key: 'k' });
      assert.deepEqual(await store.publish(keyed), { events: [], replayed: false, suppressed: ['alice'] });
      assert.deepEqual(await store.publish(keyed), { events: [], replayed: true });
      assert.deepEqual(await store.eventsAfter('user:alice', 0, 10), []);
    });

    test('a publish stores nothing for recipients who muted its type, exactly or by a prefix, and names them in order', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('carol', ['social.like']);
      await store.setMutedTypes('alice', ['social.*']);
      await store.setMutedTypes('dave', ['promo']);
      const result = await store.publish(request({ recipients: ['alice', 'bob', 'carol', 'dave'], type: 'social.like' }));
      assert.deepEqual(result.suppressed, ['alice', 'carol']);
      assert.deepEqual(result.events.map((e) => e.notification.recipient), ['bob', 'dave']);
      assert.deepEqual(await store.eventsAfter('user:alice', 0, 10), []);
      assert.deepEqual(await store.eventsAfter('user:carol', 0, 10), []);
      assert.equal((await store.eventsAfter('user:bob', 0, 10)).length, 1);
    });

    test('a critical publish reaches recipients who muted its type', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['alert']);
      const result = await store.publish(request({ recipients: ['alice', 'bob'], critical: true }));
      assert.deepEqual(result.suppressed, []);
      assert.deepEqual(result.events.map((e) => e.notification.recipient), ['alice', 'bob']);
    });

    test('publishes of one batch each see their own type muted, not the other\'s', async (t) => {
      const store = await backend.open(t);
      await store.setMutedTypes('alice', ['promo']);
      const transactions = () => (store as unknown as { publishTransactions: number }).publishTransactions;
      const before = transactions();
      const [promo, alert] = await Promise.all([
        store.publish(request({ recipients: ['alice', 'bob'], type: 'promo' })),
        store.publish(request({ recipients: ['alice', 'bob'], type: 'alert' })),
      ]);
      assert.equal(transactions() - before, 1, 'the two publishes shared one transaction');
      assert.deepEqual(promo?.suppressed, ['alice']);
      assert.deepEqual(alert?.suppressed, []);
      assert.deepEqual((await store.eventsAfter('user:alice', 0, 10)).map((e) => e.notification.type), ['alert']);
    });
  });
}
