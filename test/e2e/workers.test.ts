// HERALD_WORKERS=2 in embedded mode (SQLite): one node of a primary and two workers on one
// port. Each test reaches the worker it means through the Herald-Worker header every answer
// carries (test/helpers/workers.ts), so "another worker" is checked, not hoped for.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { tallyDelivery, waitForDelivery } from '../helpers/delivery-check.js';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { ResumingSubscriber } from '../helpers/subscriber.js';
import { waitFor } from '../helpers/wait.js';
import { openStreamOn, WorkerConnection } from '../helpers/workers.js';

const WORKERS = { HERALD_WORKERS: '2' };
const contents = (events: Array<{ data: { content: string } }>) => events.map((e) => e.data.content);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('one node, two workers', () => {
  let herald: HeraldProcess;
  let one: WorkerConnection;
  let two: WorkerConnection;
  let publisher: string;

  before(async () => {
    herald = await startHerald({ env: WORKERS });
    [one, two] = await Promise.all([WorkerConnection.to(herald.url, 1), WorkerConnection.to(herald.url, 2)]);
    publisher = await herald.token('publisher', { scope: 'publish' });
  });
  after(async () => {
    one?.close();
    two?.close();
    await herald?.stop();
  });

  test('a stream on worker 1 receives a publish made through worker 2', async (t) => {
    const stream = await openStreamOn(herald.url, 1, await herald.token('alice'));
    t.after(() => stream.close());
    await stream.waitForEvents('ready', 1);
    const answer = await two.publish(publisher, { recipients: ['alice'], type: 'alert', content: 'across' });
    assert.equal(answer.status, 202);
    const [event] = await stream.waitForEvents('notification', 1);
    assert.equal(event?.data.content, 'across');
    assert.equal(event?.data.id, answer.body.notifications[0].id);
  });

  test('Last-Event-ID on another worker replays exactly what was missed, then goes live', async (t) => {
    const token = await herald.token('bob');
    const first = await openStreamOn(herald.url, 1, token);
    await first.waitForEvents('ready', 1);
    assert.equal((await one.publish(publisher, { recipients: ['bob'], type: 'alert', content: 'm1' })).status, 202);
    await first.waitForEvents('notification', 1);
    const cursor = first.lastId();
    first.close();
    for (const [i, via] of [one, two, one].entries()) {
      assert.equal((await via.publish(publisher, { recipients: ['bob'], type: 'alert', content: `m${i + 2}` })).status, 202);
    }
    const second = await openStreamOn(herald.url, 2, token, { lastEventId: cursor ?? '' });
    t.after(() => second.close());
    await second.waitForEvents('notification', 3);
    assert.equal((await one.publish(publisher, { recipients: ['bob'], type: 'alert', content: 'm5' })).status, 202);
    const events = await second.waitForEvents('notification', 4);
    assert.deepEqual(contents(events), ['m2', 'm3', 'm4', 'm5']);
    assert.equal(second.of('reset').length, 0);
    assert.deepEqual(events.map((e) => e.data.unread_count), [4, 4, 4, 5]);
  });

  test('unread counts agree on both workers after a read on one of them', async (t) => {
    const token = await herald.token('carol');
    const [s1, s2] = await Promise.all([openStreamOn(herald.url, 1, token), openStreamOn(herald.url, 2, token)]);
    t.after(() => { s1.close(); s2.close(); });
    await Promise.all([s1.waitForEvents('ready', 1), s2.waitForEvents('ready', 1)]);
    const ids: string[] = [];
    for (const via of [one, two, two]) ids.push((await via.publish(publisher, { recipients: ['carol'], type: 'alert', content: 'c' })).body.notifications[0].id);
    await Promise.all([s1.waitForEvents('notification', 3), s2.waitForEvents('notification', 3)]);
    assert.equal((await one.request('PATCH', `/v1/notifications/${ids[1]}`, token, { status: 'read' })).status, 200);
    // The reader on the other worker hears of it and recounts.
    const [update] = await s2.waitForEvents('notification.updated', 1);
    assert.equal(update?.data.unread_count, 2);
    for (const via of [one, two]) assert.equal((await via.request('GET', '/v1/notifications/unread-count', token)).body.unread_count, 2);
  });

  test('an idempotency key used on one worker is replayed by the other', async () => {
    const body = { recipients: ['dave'], type: 'alert', content: 'once', idempotency_key: 'same-key' };
    const first = await one.publish(publisher, body);
    const again = await two.publish(publisher, body);
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.body.notifications[0].id, first.body.notifications[0].id);
    const token = await herald.token('dave');
    assert.equal((await two.request('GET', '/v1/notifications/unread-count', token)).body.unread_count, 1);
  });

  test('a notification scheduled through the worker without the scheduler is delivered once, on time', async (t) => {
    const token = await herald.token('erin');
    const [s1, s2] = await Promise.all([openStreamOn(herald.url, 1, token), openStreamOn(herald.url, 2, token)]);
    t.after(() => { s1.close(); s2.close(); });
    await Promise.all([s1.waitForEvents('ready', 1), s2.waitForEvents('ready', 1)]);
    const deliverAt = new Date(Date.now() + 1500).toISOString();
    assert.equal((await two.publish(publisher, { recipients: ['erin'], type: 'reminder', content: 'later', deliver_at: deliverAt })).status, 202);
    await Promise.all([s1.waitForEvents('notification', 1), s2.waitForEvents('notification', 1)]);
    assert.ok(Date.now() >= Date.parse(deliverAt), 'not streamed before deliver_at');
    // A live one after it: anything delivered twice would have arrived before it.
    assert.equal((await one.publish(publisher, { recipients: ['erin'], type: 'alert', content: 'marker' })).status, 202);
    for (const s of [s1, s2]) {
      await waitFor(() => s.of('notification').some((e) => e.data.content === 'marker'), 'the marker');
      assert.deepEqual(contents(s.of('notification')), ['later', 'marker']);
    }
    assert.equal(await herald.metric('herald_published_total{source="scheduled"}'), 1);
  });

  test('/metrics answers for the whole node, with a worker label on per-process figures', async (t) => {
    const scrape = async (via: WorkerConnection) => {
      const text = (await via.request('GET', '/metrics', null)).body as string;
      return (series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));
    };
    const published = 'herald_published_total{source="http"}';
    const before = (await scrape(one))(published);
    const token = await herald.token('frank');
    const [s1, s2] = await Promise.all([openStreamOn(herald.url, 1, token), openStreamOn(herald.url, 2, token)]);
    t.after(() => { s1.close(); s2.close(); });
    await Promise.all([s1.waitForEvents('ready', 1), s2.waitForEvents('ready', 1)]);
    for (const via of [one, two]) assert.equal((await via.publish(publisher, { recipients: ['frank'], type: 'alert', content: 'counted' })).status, 202);
    for (const via of [one, two]) {
      const value = await scrape(via);
      // Both workers' streams and both workers' publishes, whichever worker answers.
      assert.equal(value('herald_stream_connections'), 2);
      assert.equal(value(published), before + 2);
      for (const worker of ['primary', '1', '2']) assert.ok(value(`herald_process_resident_memory_bytes{worker="${worker}"}`) > 0, `RSS of ${worker}`);
      assert.equal(value('herald_ready{worker="1"}') + value('herald_ready{worker="2"}'), 2);
    }
  });
});

test('a worker killed with SIGKILL loses no accepted notification; its clients resume on the other, and it is started again', { timeout: 90_000 }, async (t) => {
  const herald = await startHerald({ env: WORKERS });
  t.after(() => herald.stop());
  const users = ['u1', 'u2'];
  const subscribers = users.flatMap((user) => [0, 1, 2].map(() => new ResumingSubscriber(herald.url, user, () => herald.token(user)).start()));
  t.after(() => Promise.all(subscribers.map((s) => s.stop())));
  await waitFor(() => subscribers.every((s) => s.open), 'every subscriber streaming');
  const victim = herald.workerPid(2);
  assert.ok(victim !== undefined, 'worker 2 logged its pid');
  const publisher = await herald.token('publisher', { scope: 'publish' });
  const accepted = new Map<string, string>();
  let killed = false;
  for (let i = 0; i < 60; i++) {
    if (i === 20) {
      process.kill(victim, 'SIGKILL');
      killed = true;
    }
    const user = users[i % 2] as string;
    const key = `k${i}`;
    // A publish on the dead worker's connection fails unanswered (not accepted); the next one
    // reconnects. A connection the primary handed to the worker as it died is never answered
    // (docs/architecture.md, "When a worker dies"): it reached no worker, so it stored nothing.
    const answer = await fetch(`${herald.url}/v1/notifications`, {
      method: 'POST', headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipients: [user], type: 'alert', content: key }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => null);
    if (answer?.status === 202) accepted.set(key, user);
  }
  assert.ok(killed);
  assert.ok(accepted.size >= 30, `most publishes accepted (${accepted.size})`);
  await waitForDelivery(subscribers, accepted);
  const figures = tallyDelivery(subscribers, accepted, 'worker SIGKILL');
  assert.deepEqual({ lost: figures.lost, duplicated: figures.duplicated, unexpected: figures.unexpected, outOfOrder: figures.outOfOrder, resets: figures.resets },
    { lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0, resets: 0 });
  assert.ok(figures.reconnects > 0, 'the killed worker\'s subscribers reconnected');
  // The primary starts the slot again: a new process answers as worker 2.
  await waitFor(() => { const pid = herald.workerPid(2); return pid !== undefined && pid !== victim; }, 'worker 2 started again', 30_000);
  const again = await WorkerConnection.to(herald.url, 2);
  t.after(() => again.close());
  assert.equal((await again.publish(publisher, { recipients: ['u1'], type: 'alert', content: 'after' })).status, 202);
  await waitFor(() => subscribers.filter((s) => s.user === 'u1').every((s) => s.received.some((r) => r.content === 'after')), 'the restarted worker\'s publish');
});

test('SIGTERM to the primary drains every worker, then everything exits', async (t) => {
  const herald = await startHerald({ env: { ...WORKERS, HERALD_DRAIN_MS: '500' } });
  t.after(() => herald.stop());
  const token = await herald.token('gina');
  const [s1, s2] = await Promise.all([openStreamOn(herald.url, 1, token), openStreamOn(herald.url, 2, token)]);
  t.after(() => { s1.close(); s2.close(); });
  await Promise.all([s1.waitForEvents('ready', 1), s2.waitForEvents('ready', 1)]);
  const pids = [herald.workerPid(1), herald.workerPid(2)];
  assert.equal(await herald.kill('SIGTERM'), 0);
  // Both streams were ended by their workers' drain (not cut by a kill).
  await Promise.all([s1.ended, s2.ended]);
  for (const slot of [1, 2]) assert.ok(herald.logs.some((l) => l.includes('"message":"stopped"') && l.includes(`"worker":${slot},`)), `worker ${slot} stopped cleanly`);
  assert.ok(herald.logs.some((l) => l.includes('"message":"stopped"') && l.includes('"worker":"primary"')));
  for (const pid of pids) assert.ok(pid !== undefined && !alive(pid), `worker ${pid} exited`);
});
