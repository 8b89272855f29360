// Preferences end to end: a real Herald process, HTTP and real streams, on SQLite and on
// PostgreSQL. Each case uses its own users and group, so cases on one server stay apart.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { openStream, type TestStream } from '../helpers/sse-client.js';
import { heraldOn, STORES } from './store-backends.js';

// The answer's JSON, of any shape: tests assert on the fields they expect.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function mute(herald: HeraldProcess, user: string, mutedTypes: unknown): Promise<void> {
  const res = await api(herald.url, await herald.token(user), 'PUT', '/v1/preferences', { muted_types: mutedTypes });
  assert.equal(res.status, 200);
}

async function stream(t: TestContext, herald: HeraldProcess, user: string, options: { groups?: string[]; lastEventId?: string } = {}): Promise<TestStream> {
  const s = await openStream(herald.url, await herald.token(user, { groups: options.groups }), { lastEventId: options.lastEventId });
  t.after(() => s.close());
  await s.waitForEvents('ready', 1);
  return s;
}

async function inbox(herald: HeraldProcess, user: string, groups?: string[]) {
  return (await api(herald.url, await herald.token(user, { groups }), 'GET', '/v1/notifications')).body;
}

const contents = (events: Array<{ data: { content: string } }>) => events.map((e) => e.data.content);

/** Every case that involves the store, against one server of the given backend. */
async function preferenceCases(t: TestContext, herald: HeraldProcess): Promise<void> {
  await t.test('GET /v1/preferences answers an empty list for a user who never set any', async () => {
    const res = await api(herald.url, await herald.token('never'), 'GET', '/v1/preferences');
    assert.deepEqual({ status: res.status, body: res.body }, { status: 200, body: { muted_types: [] } });
  });

  await t.test('PUT /v1/preferences stores the list (duplicates collapsed) and GET answers it', async () => {
    const token = await herald.token('setter');
    const put = await api(herald.url, token, 'PUT', '/v1/preferences', { muted_types: ['social.*', 'promo', 'promo'] });
    assert.deepEqual({ status: put.status, body: put.body }, { status: 200, body: { muted_types: ['promo', 'social.*'] } });
    assert.deepEqual((await api(herald.url, token, 'GET', '/v1/preferences')).body, { muted_types: ['promo', 'social.*'] });
  });

  await t.test('a recipient who muted the type gets nothing: suppressed, not stored, not streamed, not counted', async (st) => {
    await mute(herald, 'mu1', ['promo']);
    const s = await stream(st, herald, 'mu1');
    const res = await herald.publish({ recipients: ['mu1', 'mu2'], type: 'promo', content: 'sale' });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.suppressed, ['mu1']);
    assert.deepEqual(res.body.notifications.map((n: { recipient: string }) => n.recipient), ['mu2']);
    await herald.publish({ recipients: ['mu1'], type: 'alert', content: 'after' });
    // The stream's next notification is the one after: the muted one never came.
    const [event] = await s.waitForEvents('notification', 1);
    assert.equal(event?.data.content, 'after');
    assert.equal(event?.data.unread_count, 1);
    const list = await inbox(herald, 'mu1');
    assert.deepEqual(list.items.map((n: { content: string }) => n.content), ['after']);
    assert.equal(list.unread_count, 1);
  });

  await t.test('a publish with no muting recipient answers suppressed: []', async () => {
    const res = await herald.publish({ recipients: ['plain'], type: 'promo', content: 'x' });
    assert.deepEqual(res.body.suppressed, []);
  });

  await t.test('a critical publish reaches a recipient who muted its type', async (st) => {
    await mute(herald, 'crit1', ['promo']);
    const s = await stream(st, herald, 'crit1');
    const res = await herald.publish({ recipients: ['crit1'], type: 'promo', content: 'recall', critical: true });
    assert.deepEqual(res.body.suppressed, []);
    assert.equal((await s.waitForEvents('notification', 1))[0]?.data.content, 'recall');
    assert.equal((await inbox(herald, 'crit1')).unread_count, 1);
  });

  await t.test('a prefix mute suppresses the types under it and not the bare prefix', async () => {
    await mute(herald, 'pre1', ['social.*']);
    const muted = await herald.publish({ recipients: ['pre1'], type: 'social.like', content: 'liked' });
    const bare = await herald.publish({ recipients: ['pre1'], type: 'social', content: 'bare' });
    assert.deepEqual([muted.body.suppressed, bare.body.suppressed], [['pre1'], []]);
    assert.deepEqual((await inbox(herald, 'pre1')).items.map((n: { content: string }) => n.content), ['bare']);
  });

  await t.test('an idempotent replay answers the same suppressed, even after the preferences changed', async () => {
    await mute(herald, 'idem1', ['promo']);
    const body = { recipients: ['idem1', 'idem2'], type: 'promo', content: 'once', idempotency_key: 'prefs-idem' };
    const first = await herald.publish(body);
    await mute(herald, 'idem1', []);
    const again = await herald.publish(body);
    assert.deepEqual(again.body, first.body);
    assert.deepEqual(again.body.suppressed, ['idem1']);
  });

  await t.test('a topic notification of a muted type is hidden from the muting reader\'s list, count and stream, not from others', async (st) => {
    const groups = ['tq1'];
    await mute(herald, 'tq-alice', ['promo']);
    const alice = await stream(st, herald, 'tq-alice', { groups });
    const bob = await stream(st, herald, 'tq-bob', { groups });
    const promo = await herald.publish({ topic: 'group:tq1', type: 'promo', content: 'sale' });
    assert.deepEqual(promo.body.suppressed, [], 'a topic publish names no recipients to suppress');
    await herald.publish({ topic: 'group:tq1', type: 'alert', content: 'fire' });
    assert.deepEqual(contents(await bob.waitForEvents('notification', 2)), ['sale', 'fire']);
    const [aliceEvent] = await alice.waitForEvents('notification', 1);
    assert.deepEqual([aliceEvent?.data.content, aliceEvent?.data.unread_count], ['fire', 1]);
    const aliceInbox = await inbox(herald, 'tq-alice', groups);
    assert.deepEqual([aliceInbox.items.map((n: { content: string }) => n.content), aliceInbox.unread_count], [['fire'], 1]);
    const bobInbox = await inbox(herald, 'tq-bob', groups);
    assert.deepEqual([bobInbox.items.map((n: { content: string }) => n.content), bobInbox.unread_count], [['fire', 'sale'], 2]);
  });

  await t.test('a critical topic notification reaches a reader who muted its type', async (st) => {
    await mute(herald, 'tc-alice', ['promo']);
    const alice = await stream(st, herald, 'tc-alice', { groups: ['tc1'] });
    await herald.publish({ topic: 'group:tc1', type: 'promo', content: 'recall', critical: true });
    assert.equal((await alice.waitForEvents('notification', 1))[0]?.data.content, 'recall');
    assert.equal((await inbox(herald, 'tc-alice', ['tc1'])).unread_count, 1);
  });

  await t.test('a resume leaves muted topic events out and continues exactly after the cursor', async (st) => {
    const groups = ['rs1'];
    await mute(herald, 'rs-alice', ['promo']);
    const first = await stream(st, herald, 'rs-alice', { groups });
    await herald.publish({ topic: 'group:rs1', type: 'alert', content: 'a1' });
    await herald.publish({ topic: 'group:rs1', type: 'promo', content: 'p1' });
    await herald.publish({ topic: 'group:rs1', type: 'alert', content: 'a2' });
    await first.waitForEvents('notification', 2);
    const cursor = first.of('notification')[0]?.id;
    first.close();
    for (const content of ['p2', 'a3']) await herald.publish({ topic: 'group:rs1', type: content.startsWith('p') ? 'promo' : 'alert', content });
    const second = await stream(st, herald, 'rs-alice', { groups, lastEventId: cursor });
    await second.waitForEvents('notification', 2);
    await herald.publish({ topic: 'group:rs1', type: 'promo', content: 'p3' });
    await herald.publish({ topic: 'group:rs1', type: 'alert', content: 'a4' });
    const events = await second.waitForEvents('notification', 3);
    assert.deepEqual(contents(events), ['a2', 'a3', 'a4']);
    assert.deepEqual(events.map((e) => e.data.unread_count), [3, 3, 4]);
    assert.equal(second.of('reset').length, 0);
    // Resuming from the last event again sends nothing more (the muted p3 before it stays out).
    const third = await stream(st, herald, 'rs-alice', { groups, lastEventId: second.lastId() });
    await herald.publish({ topic: 'group:rs1', type: 'alert', content: 'a5' });
    assert.deepEqual(contents(await third.waitForEvents('notification', 1)), ['a5']);
  });

  await t.test('a PUT pushes preferences.updated to the user\'s other stream, which then drops the newly muted type', async (st) => {
    const groups = ['pu1'];
    const token = await herald.token('pu-alice', { groups });
    const other = await stream(st, herald, 'pu-alice', { groups });
    await herald.publish({ topic: 'group:pu1', type: 'promo', content: 'before' });
    assert.equal((await other.waitForEvents('notification', 1))[0]?.data.unread_count, 1);
    const put = await api(herald.url, token, 'PUT', '/v1/preferences', { muted_types: ['promo'] });
    assert.equal(put.status, 200);
    const [updated] = await other.waitForEvents('preferences.updated', 1);
    assert.deepEqual(updated?.data, { muted_types: ['promo'], unread_count: 0 });
    assert.equal(updated?.id, undefined, 'it does not move the cursor');
    await herald.publish({ topic: 'group:pu1', type: 'promo', content: 'muted' });
    await herald.publish({ topic: 'group:pu1', type: 'alert', content: 'shown' });
    const events = await other.waitForEvents('notification', 2);
    assert.deepEqual([contents(events), events[1]?.data.unread_count], [['before', 'shown'], 1]);
  });

  await t.test('two PUTs at once store one of the two lists, and the last preferences.updated carries the stored one', async (st) => {
    const token = await herald.token('race-alice');
    const other = await stream(st, herald, 'race-alice');
    const lists = [['first.a', 'first.b', 'first.c'], ['second.a', 'second.b', 'second.c']];
    // A few rounds: which PUT commits last is a race, and so is a mix of the two.
    for (let round = 1; round <= 5; round++) {
      const puts = await Promise.all(lists.map((list) => api(herald.url, token, 'PUT', '/v1/preferences', { muted_types: list })));
      assert.deepEqual(puts.map((put) => put.status), [200, 200]);
      const stored = (await api(herald.url, token, 'GET', '/v1/preferences')).body.muted_types;
      assert.ok(lists.some((list) => list.join() === stored.join()), `round ${round}: stored ${stored.join(', ')}`);
      // One push per PUT; the later of them is what the stream keeps.
      const pushed = await other.waitForEvents('preferences.updated', 2 * round);
      assert.deepEqual(pushed.at(-1)?.data.muted_types, stored, `round ${round}`);
    }
  });
}

for (const store of STORES) {
  test(`preferences on ${store}`, { timeout: 180_000 }, async (t) => {
    await preferenceCases(t, await heraldOn(store, t));
  });
}

test('bad preferences are refused with a precise code', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('bad');
  const put = (body: unknown) => api(herald.url, token, 'PUT', '/v1/preferences', body);

  await t.test('an unknown field is 400 invalid_request', async () => {
    const res = await put({ muted_types: [], mute_all: true });
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_request']);
  });

  await t.test('101 entries are 400 too_many_mutes', async () => {
    const res = await put({ muted_types: Array.from({ length: 101 }, (_, i) => `type${i}`) });
    assert.deepEqual([res.status, res.body.error.code], [400, 'too_many_mutes']);
  });

  await t.test('a pattern that is not a type or prefix.* is 400 invalid_mute_pattern', async () => {
    const res = await put({ muted_types: ['promo', 'social*'] });
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_mute_pattern']);
  });

  await t.test('muted_types that is not an array is 400 invalid_request', async () => {
    const res = await put({ muted_types: 'promo' });
    assert.deepEqual([res.status, res.body.error.code], [400, 'invalid_request']);
  });

  await t.test('a refused PUT leaves the stored preferences as they were', async () => {
    assert.equal((await put({ muted_types: ['promo'] })).status, 200);
    await put({ muted_types: ['promo', 'Bad'] });
    assert.deepEqual((await api(herald.url, token, 'GET', '/v1/preferences')).body, { muted_types: ['promo'] });
  });

  await t.test('preferences need a token', async () => {
    const res = await fetch(`${herald.url}/v1/preferences`);
    assert.equal(res.status, 401);
  });
});
