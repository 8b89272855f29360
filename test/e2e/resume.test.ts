import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { rawExchange } from '../security/wire.js';

const contents = (events: Array<{ data: { content: string } }>) => events.map((e) => e.data.content);

test('Last-Event-ID replays exactly what was missed while disconnected, then goes live', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('alice');
  const first = await openStream(herald.url, token);
  await first.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'm1' });
  await first.waitForEvents('notification', 1);
  const cursor = first.lastId();
  first.close();

  for (const c of ['m2', 'm3', 'm4']) await herald.publish({ recipients: ['alice'], type: 'alert', content: c });
  const second = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => second.close());
  await second.waitForEvents('notification', 3);
  await herald.publish({ recipients: ['alice'], type: 'alert', content: 'm5' });
  const events = await second.waitForEvents('notification', 4);
  assert.deepEqual(contents(events), ['m2', 'm3', 'm4', 'm5']);
  assert.equal(second.of('reset').length, 0);
  // Every event carries the current count: all four missed ones are already unread.
  assert.deepEqual(events.map((e) => e.data.unread_count), [4, 4, 4, 5]);
  assert.equal(await herald.metric('herald_replayed_total'), 3, 'three sent from the store, one live');
});

test('the cursor also works as the last_event_id query parameter (a reloaded native EventSource)', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('bob');
  const first = await openStream(herald.url, token);
  await first.waitForEvents('ready', 1);
  await herald.publish({ recipients: ['bob'], type: 'alert', content: 'a' });
  const cursor = (await first.waitForEvents('notification', 1))[0]?.id ?? '';
  first.close();
  await herald.publish({ recipients: ['bob'], type: 'alert', content: 'b' });

  // No Authorization and no Last-Event-ID header, as a native EventSource after a page
  // reload would send.
  const resumed = await openStream(herald.url, null, { query: `access_token=${token}&last_event_id=${encodeURIComponent(cursor)}` });
  t.after(() => resumed.close());
  assert.equal(resumed.status, 200);
  await resumed.waitForEvents('notification', 1);
  // A live one after the replay: once it arrives, anything replayed has arrived before it.
  await herald.publish({ recipients: ['bob'], type: 'alert', content: 'c' });
  await waitFor(() => resumed.of('notification').some((e) => e.data.content === 'c'), 'the live notification');
  assert.deepEqual(contents(resumed.of('notification')), ['b', 'c'], 'the missed one replayed once, the one before the cursor not at all');
  assert.equal(resumed.of('reset').length, 0);
});

async function readyCursor(url: string, token: string): Promise<string> {
  const s = await openStream(url, token);
  const [ready] = await s.waitForEvents('ready', 1);
  s.close();
  return ready?.id ?? '';
}

test('after kill -9 and a restart, the cursor resumes with nothing lost and nothing twice', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const token = await herald.token('carol');
  const before = await openStream(herald.url, token);
  await before.waitForEvents('ready', 1);
  for (let i = 0; i < 5; i++) await herald.publish({ recipients: ['carol'], type: 'alert', content: `before-${i}` });
  const seen = await before.waitForEvents('notification', 5);
  const cursor = seen[2]?.id; // as if the client had only processed three
  await herald.kill('SIGKILL');
  await before.ended;
  await herald.restart();
  for (let i = 0; i < 3; i++) await herald.publish({ recipients: ['carol'], type: 'alert', content: `after-${i}` });
  const after = await openStream(herald.url, token, { lastEventId: cursor });
  t.after(() => after.close());
  const events = await after.waitForEvents('notification', 5);
  assert.deepEqual(contents(events), ['before-3', 'before-4', 'after-0', 'after-1', 'after-2']);
});

describe('a cursor the server cannot resume answers 200 with event: reset, never an error', () => {
  let herald: HeraldProcess;
  let token: string;
  let epoch: string;
  before(async () => {
    herald = await startHerald();
    token = await herald.token('dave');
    await herald.publish({ recipients: ['dave'], type: 'alert', content: 'x' });
    epoch = (await readyCursor(herald.url, token)).split('.')[0] as string;
  });
  after(() => herald.stop());

  const cases: Array<[string, () => string]> = [
    ['garbage', () => 'garbage'],
    ['another database\'s epoch', () => 'zzzzzz.1.0'],
    ['a sequence above the head', () => `${epoch}.99.0`],
    ['a negative sequence', () => `${epoch}.-1.0`],
    ['a broadcast sequence above its head', () => `${epoch}.1.5`],
  ];
  for (const [name, cursor] of cases) {
    test(`${name}: ready, then reset with the current count and a fresh cursor, and no replay`, async (t) => {
      const s = await openStream(herald.url, token, { lastEventId: cursor() });
      t.after(() => s.close());
      assert.equal(s.status, 200);
      await s.waitForEvents('ready', 1);
      const [reset] = await s.waitForEvents('reset', 1);
      assert.equal(reset?.data.unread_count, 1);
      assert.match(reset?.id ?? '', new RegExp(`^${epoch}\\.1\\.0\\.k[0-9a-z]+$`));
      assert.deepEqual(s.events.map((e) => e.event), ['ready', 'reset']);
    });
  }

  test('an empty Last-Event-ID header is no cursor: ready without reset, and nothing replayed', async () => {
    // Another user, so the other cases' counts do not depend on the order tests run in.
    const token = await herald.token('erin');
    await herald.publish({ recipients: ['erin'], type: 'alert', content: 'stored' });
    // The exact bytes, so the header is surely sent and surely empty; the live notification
    // is published once ready has arrived, and the read ends when it arrives.
    let published: Promise<unknown> | null = null;
    const res = await rawExchange(herald.port, `GET /v1/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${token}\r\nLast-Event-ID: \r\n\r\n`, (text) => {
      if (!published && text.includes('event: ready')) published = herald.publish({ recipients: ['erin'], type: 'alert', content: 'live' });
      return text.includes('"content":"live"');
    }, 10_000);
    await published;
    assert.equal(res.status, 200);
    const events = [...res.body.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(events, ['ready', 'notification']);
    assert.ok(!res.body.includes('"content":"stored"'), 'nothing replayed');
    assert.match(res.body, /"unread_count":2/, 'the live one counts the stored one as unread');
  });
});
