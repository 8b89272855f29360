import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  // The answer's JSON, of any shape: tests assert on the fields they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function api(url: string, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // Per-request headers (request id, rate-limit counters) differ between any two answers.
  const headers = Object.fromEntries([...res.headers].filter(([name]) => !/^(x-request-id|x-ratelimit-|ratelimit)/.test(name)));
  return { status: res.status, headers, body: text ? JSON.parse(text) : null };
}

test('two streams of one user stay in sync on read, unread, archive and read-all', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('alice');
  const tabA = await openStream(herald.url, token);
  const tabB = await openStream(herald.url, token);
  t.after(() => { tabA.close(); tabB.close(); });
  await tabA.waitForEvents('ready', 1);
  await tabB.waitForEvents('ready', 1);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await herald.publish({ recipients: ['alice'], type: 'alert', content: `n${i}` })).body.notifications[0].id);
  await tabB.waitForEvents('notification', 3);

  // Tab A marks one read: tab B hears of it with the new count.
  const read = await api(herald.url, token, 'PATCH', `/v1/notifications/${ids[0]}`, { status: 'read' });
  assert.equal(read.status, 200);
  assert.equal(read.body.notification.status, 'read');
  assert.equal(read.body.unread_count, 2);
  let [update] = await tabB.waitForEvents('notification.updated', 1);
  assert.deepEqual({ ids: update?.data.ids, status: update?.data.status, unread: update?.data.unread_count }, { ids: [ids[0]], status: 'read', unread: 2 });
  assert.equal(update?.data.notification.id, ids[0]);

  await api(herald.url, token, 'PATCH', `/v1/notifications/${ids[0]}`, { status: 'unread' });
  update = (await tabB.waitForEvents('notification.updated', 2))[1];
  assert.equal(update?.data.unread_count, 3);

  await api(herald.url, token, 'PATCH', `/v1/notifications/${ids[1]}`, { archived: true });
  update = (await tabA.waitForEvents('notification.updated', 3))[2];
  assert.equal(update?.data.archived, true);
  assert.equal(update?.data.unread_count, 2, 'archived items leave the unread count');

  const all = await api(herald.url, token, 'POST', '/v1/notifications/read-all');
  assert.deepEqual(all.body, { updated: 2, unread_count: 0 });
  update = (await tabB.waitForEvents('notification.updated', 4))[3];
  assert.deepEqual({ all: update?.data.all, unread: update?.data.unread_count }, { all: true, unread: 0 });

  // A new notification after read-all counts from zero on both tabs.
  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'fresh' });
  assert.equal((await tabA.waitForEvents('notification', 4))[3]?.data.unread_count, 1);
  assert.equal((await tabB.waitForEvents('notification', 4))[3]?.data.unread_count, 1);
});

test('the inbox lists newest first with filters, cursor pagination and the unread count', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('bob');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await herald.publish({ recipients: ['bob'], type: i % 2 ? 'comment.mention' : 'alert', content: `n${i}` })).body.notifications[0].id);
  }
  await api(herald.url, token, 'PATCH', `/v1/notifications/${ids[4]}`, { status: 'read' });

  const page1 = await api(herald.url, token, 'GET', '/v1/notifications?limit=2');
  assert.equal(page1.status, 200);
  assert.deepEqual(page1.body.items.map((n: { content: string }) => n.content), ['n4', 'n3']);
  assert.equal(page1.body.unread_count, 4);
  assert.equal(page1.body.items[0].status, 'read');
  assert.ok(page1.body.items[0].read_at);
  const page2 = await api(herald.url, token, 'GET', `/v1/notifications?limit=2&cursor=${page1.body.next_cursor}`);
  assert.deepEqual(page2.body.items.map((n: { content: string }) => n.content), ['n2', 'n1']);
  const page3 = await api(herald.url, token, 'GET', `/v1/notifications?limit=2&cursor=${page2.body.next_cursor}`);
  assert.deepEqual(page3.body.items.map((n: { content: string }) => n.content), ['n0']);
  assert.equal(page3.body.next_cursor, null);

  const unread = await api(herald.url, token, 'GET', '/v1/notifications?status=unread&type=alert');
  assert.deepEqual(unread.body.items.map((n: { content: string }) => n.content), ['n2', 'n0']);
  const readOnly = await api(herald.url, token, 'GET', '/v1/notifications?status=read');
  assert.deepEqual(readOnly.body.items.map((n: { content: string }) => n.content), ['n4']);
  assert.deepEqual((await api(herald.url, token, 'GET', '/v1/notifications/unread-count')).body, { unread_count: 4 });

  await api(herald.url, token, 'PATCH', `/v1/notifications/${ids[0]}`, { archived: true });
  const visible = await api(herald.url, token, 'GET', '/v1/notifications');
  assert.equal(visible.body.items.length, 4);
  const archived = await api(herald.url, token, 'GET', '/v1/notifications?archived=true');
  assert.deepEqual(archived.body.items.map((n: { id: string }) => n.id), [ids[0]]);

  // seen-all up to a cursor marks seen without marking read.
  const seen = await api(herald.url, token, 'POST', '/v1/notifications/seen-all', { up_to: ids[2] });
  assert.equal(seen.status, 200);
  const after = await api(herald.url, token, 'GET', '/v1/notifications?status=unread');
  const seenContents = after.body.items.filter((n: { seen_at: string | null }) => n.seen_at).map((n: { content: string }) => n.content);
  assert.deepEqual(seenContents, ['n2', 'n1']);
  assert.equal(after.body.unread_count, 3);
});

test("one user can neither see nor change another user's notifications", async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const alice = await herald.token('alice');
  const mallory = await herald.token('mallory');
  const id = (await herald.publish({ recipients: ['alice'], type: 'alert', content: 'private' })).body.notifications[0].id;
  const patch = await api(herald.url, mallory, 'PATCH', `/v1/notifications/${id}`, { status: 'read' });
  assert.equal(patch.status, 404);
  assert.equal(patch.body.error.code, 'not_found');
  // An unknown id of the same length, so that nothing but the id itself may differ.
  const missing = 'z'.repeat(id.length);
  const unknown = await api(herald.url, mallory, 'PATCH', `/v1/notifications/${missing}`, { status: 'read' });
  // Same status, same headers that matter, same body but for the id: nothing tells
  // "exists, not yours" from "does not exist".
  const sameAnswer = (mine: Answer, other: Answer, what: string) => {
    assert.equal(mine.status, other.status, `${what}: status`);
    assert.deepEqual(
      { ...mine.headers, 'content-length': undefined, date: undefined },
      { ...other.headers, 'content-length': undefined, date: undefined },
      `${what}: headers`,
    );
    assert.deepEqual(JSON.parse(JSON.stringify(mine.body).replaceAll(missing, id)), other.body, `${what}: body`);
  };
  sameAnswer(unknown, patch, 'PATCH of another user\'s id answers exactly like an unknown one');
  const readAllOther = await api(herald.url, mallory, 'POST', '/v1/notifications/read-all', { up_to: id });
  const readAllUnknown = await api(herald.url, mallory, 'POST', '/v1/notifications/read-all', { up_to: missing });
  assert.equal(readAllOther.status, 404);
  sameAnswer(readAllUnknown, readAllOther, 'read-all up to another user\'s id answers exactly like an unknown one');
  assert.deepEqual((await api(herald.url, mallory, 'GET', '/v1/notifications')).body.items, []);
  assert.equal((await api(herald.url, alice, 'GET', '/v1/notifications?status=unread')).body.items.length, 1);
});
