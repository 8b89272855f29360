// An upgrade from the previous release, as docs/upgrading.md tells an operator to do it: a
// SQLite database written by Herald 0.2.0 (test/fixtures/herald-0.2.0.db, made and remade by
// test/fixtures/make-release-db.mjs, which also recorded 0.2.0's answers in herald-0.2.0.json)
// goes through the current `herald migrate`, then the current `herald serve` runs on it. Every
// notification, receipt, cursor, scheduled publish and idempotency key 0.2.0 left must still
// work. PostgreSQL is not covered here: its schema comes from the same migrations.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { CLI, startHerald, type HeraldProcess } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { openStream } from '../helpers/sse-client.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

interface Item { id: string; status: string; [field: string]: unknown }
interface Inbox { all: Item[]; archived: Item[]; snoozed: Item[]; unread_count: number; muted_types: string[] }
interface Fixture {
  version: string;
  made_at: string;
  far_ahead: string;
  ids: Record<string, string>;
  expired: string[];
  scheduled: { id: string; recipient: string; deliver_at: string };
  idempotent: { body: Record<string, unknown>; answer: { notifications: Array<{ id: string }> } };
  inboxes: Record<string, Inbox>;
  cursors: Array<{ user: string; groups: string[]; cursor: string; replayed: string[] }>;
}

const fixture = JSON.parse(readFileSync(join(FIXTURES, 'herald-0.2.0.json'), 'utf8')) as Fixture;
/** What an inbox item must keep across the upgrade (a newer version may add fields). */
const KEPT = ['id', 'recipient', 'topic', 'type', 'title', 'content', 'data', 'status', 'seen_at', 'read_at', 'archived_at', 'created_at', 'expires_at', 'snoozed_until'];
const kept = (item: Item) => Object.fromEntries(KEPT.map((field) => [field, item[field]]));
const LISTS = { all: 'status=all', archived: 'status=all&archived=true', snoozed: 'status=snoozed' } as const;

describe(`a Herald ${fixture.version} database, migrated by the current herald migrate`, () => {
  let dir: string;
  let migrate: ReturnType<typeof spawnSync>;
  let herald: HeraldProcess;
  let publisherToken: string;
  const tokens: Record<string, string> = {};

  before(async () => {
    // The fixture's snooze, expiry and schedule lie ~365 days after it was made; past that
    // they would end during the test and every answer would differ from the recorded one.
    const margin = Date.parse(fixture.far_ahead) - Date.now();
    assert.ok(margin > 86_400_000, `the ${fixture.version} fixture (made ${fixture.made_at}) has times that pass at ${fixture.far_ahead}: remake it as test/fixtures/make-release-db.mjs says`);
    dir = mkdtempSync(join(tmpdir(), 'herald-upgrade-'));
    const db = join(dir, 'herald.db');
    copyFileSync(join(FIXTURES, `herald-${fixture.version}.db`), db);
    const env = { HERALD_DATABASE_URL: db, HERALD_JWT_SECRET: 'upgrade-test-secret-of-at-least-32-chars' };
    migrate = spawnSync(process.execPath, [CLI, 'migrate'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
    herald = await startHerald({
      // The fixture's rows age in the repository: nothing may be forgotten for being old.
      env: { ...env, HERALD_RETENTION_DAYS: '0', HERALD_IDEMPOTENCY_TTL_HOURS: '0' },
    });
    publisherToken = await herald.token('publisher', { scope: 'publish' });
    for (const cursor of fixture.cursors) tokens[cursor.user] ??= await herald.token(cursor.user, { scope: 'subscribe', groups: cursor.groups });
  });
  after(async () => {
    await herald?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function get(user: string, path: string): Promise<{ status: number; body: { items: Item[]; unread_count: number; muted_types: string[] } }> {
    const res = await fetch(`${herald.url}${path}`, { headers: { authorization: `Bearer ${tokens[user]}` } });
    return { status: res.status, body: await res.json() as never };
  }

  test('herald migrate exits 0 and keeps the database\'s epoch, which its cursors name', () => {
    assert.equal(migrate.status, 0, `herald migrate failed: ${String(migrate.stderr)}`);
    const epoch = fixture.cursors[0]?.cursor.split('.')[0];
    assert.equal(String(migrate.stdout).trim(), `database migrated (epoch ${epoch})`);
  });

  test('every notification of the recorded inboxes is there, in the same lists, with the same status and receipts', async () => {
    for (const [user, inbox] of Object.entries(fixture.inboxes)) {
      for (const [list, query] of Object.entries(LISTS)) {
        const { status, body } = await get(user, `/v1/notifications?limit=100&${query}`);
        assert.equal(status, 200);
        assert.deepEqual(body.items.map(kept), inbox[list as keyof typeof LISTS].map(kept), `${user}'s ${list} list`);
      }
    }
  });

  test('unread counts equal those 0.2.0 answered', async () => {
    for (const [user, inbox] of Object.entries(fixture.inboxes)) {
      const { body } = await get(user, '/v1/notifications/unread-count');
      assert.equal(body.unread_count, inbox.unread_count, `${user}'s unread count`);
    }
  });

  test('muted types stay muted: the muted broadcast is still left out for the user who muted it', async () => {
    for (const [user, inbox] of Object.entries(fixture.inboxes)) {
      const { body } = await get(user, '/v1/preferences');
      assert.deepEqual(body.muted_types, inbox.muted_types, `${user}'s muted types`);
    }
    const bob = await get('bob', '/v1/notifications?limit=100&status=all');
    assert.ok(!bob.body.items.some((item) => item.id === fixture.ids.promo), 'bob muted promo before it was broadcast');
    assert.ok(bob.body.items.some((item) => item.id === fixture.ids.criticalPromo), 'the critical promo reaches him');
  });

  test('a notification that expired under 0.2.0 stays expired', async () => {
    const carol = await get('carol', '/v1/notifications?limit=100&status=all');
    for (const id of fixture.expired) assert.ok(!carol.body.items.some((item) => item.id === id), `${id} is listed again`);
  });

  test('the idempotency key 0.2.0 stored replays its answer, and nothing is published twice', async () => {
    const answer = await publishAccepted(herald, fixture.idempotent.body, publisherToken);
    assert.deepEqual(answer.body.notifications.map((n: { id: string }) => n.id), fixture.idempotent.answer.notifications.map((n) => n.id));
    const carol = await get('carol', '/v1/notifications?limit=100&status=all');
    assert.equal(carol.body.items.filter((item) => item.content === fixture.idempotent.body.content).length, 1);
  });

  // After the read-only checks above (node:test runs them in order): a notification published
  // after the upgrade reaches every recorded reader and changes their counts.
  describe('each recorded cursor resumes with Last-Event-ID, without reset', () => {
    let afterUpgrade: string;
    before(async () => {
      const answer = await publishAccepted(herald, { topic: 'broadcast', type: 'news', content: 'published after the upgrade' }, publisherToken);
      afterUpgrade = answer.body.notifications[0].id;
    });

    for (const [index, recorded] of fixture.cursors.entries()) {
      test(`${recorded.user}'s cursor ${index + 1} (${recorded.cursor}) receives exactly the ${recorded.replayed.length} events after it and the new one`, async (t) => {
        const expected = [...recorded.replayed, afterUpgrade];
        const stream = await openStream(herald.url, tokens[recorded.user] ?? '', { lastEventId: recorded.cursor });
        t.after(() => stream.close());
        assert.equal(stream.status, 200);
        await stream.waitForEvents('notification', expected.length);
        // A live event once the replay is done: anything replayed has arrived before it.
        const seen = await fetch(`${herald.url}/v1/notifications/${afterUpgrade}`, {
          method: 'PATCH', headers: { authorization: `Bearer ${tokens[recorded.user]}`, 'content-type': 'application/json' }, body: '{"seen":true}',
        });
        assert.equal(seen.status, 200);
        await stream.waitForEvents('notification.updated', 1);
        assert.equal(stream.of('reset').length, 0, 'the cursor was answered with reset');
        // Each once, in any order: a replay goes topic by topic (private, broadcast, groups).
        assert.deepEqual(stream.of('notification').map((e) => e.data.id as string).sort(), expected.sort());
      });
    }
  });

  test('the notification 0.2.0 scheduled far ahead is still cancellable (204), and then gone', async () => {
    const cancel = (): Promise<Response> => fetch(`${herald.url}/v1/notifications/${fixture.scheduled.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${publisherToken}` } });
    assert.equal((await cancel()).status, 204);
    assert.equal((await cancel()).status, 404, 'cancelled once, it no longer exists');
  });
});
