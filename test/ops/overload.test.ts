// Overload shedding, driven for real: the node's event loop is kept busy (test knob
// POST /test/stall) until its measured delay crosses HERALD_SHED_EVENT_LOOP_DELAY_MS.
// New streams and publishes must then get 503 with Retry-After, while a stream that was
// already open keeps receiving (here through the RabbitMQ ingest queue, which is not shed).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Publisher } from 'rabbitmq-client';
import type { HeraldProcess } from '../helpers/herald.js';
import { startQueueHerald, type QueueHerald } from '../helpers/queue-herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

describe('overload shedding', () => {
  let herald: HeraldProcess;
  let queue: QueueHerald;
  let ingest: Publisher;

  before(async () => {
    queue = await startQueueHerald({ HERALD_TEST_KNOBS: 'true', HERALD_SHED_EVENT_LOOP_DELAY_MS: '100', HERALD_SHED_RETRY_AFTER_S: '7' });
    ({ herald, ingest } = queue);
  });
  after(() => queue?.stop());

  /** Keeps the event loop busy until the node sheds; ends (and waits for recovery) after the test. */
  async function overload(t: { after(fn: () => Promise<void>): void }): Promise<void> {
    t.after(async () => {
      await fetch(`${herald.url}/test/stall`, { method: 'DELETE' });
      await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 200, 'herald ready again', 30_000, 100);
    });
    assert.equal((await fetch(`${herald.url}/test/stall?ms=120000&slice_ms=300`, { method: 'POST' })).status, 202);
    await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 503, 'herald to report overload', 30_000, 100);
  }

  async function newStreamStatus(token: string): Promise<{ status: number; retryAfter: string | null; code: string | undefined }> {
    const stream = await openStream(herald.url, token);
    stream.close();
    return { status: stream.status, retryAfter: stream.headers.get('retry-after'), code: stream.events.find((e) => e.event === 'http-error')?.data?.error?.code };
  }

  test('a new stream gets 503 overloaded with Retry-After while an open stream keeps receiving', async (t) => {
    const token = await herald.token('olive', { scope: 'subscribe' });
    const open = await openStream(herald.url, token);
    t.after(() => open.close());
    await open.waitForEvents('ready', 1);
    await overload(t);

    assert.deepEqual(await newStreamStatus(token), { status: 503, retryAfter: '7', code: 'overloaded' });
    await ingest.send({ exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json', messageId: 'overload-1' },
      Buffer.from(JSON.stringify({ recipients: ['olive'], type: 'load.test', content: 'still flowing', publisher: 'ops' })));
    const [event] = await open.waitForEvents('notification', 1, 30_000);
    assert.equal(event?.data.content, 'still flowing');
    // Still overloaded after the delivery: the open stream was served under pressure, not after it.
    assert.equal((await newStreamStatus(token)).status, 503);
  });

  test('a publish gets 503 overloaded with Retry-After; the inbox still answers', async (t) => {
    await overload(t);
    const token = await herald.token('pat', { scope: 'publish subscribe' });
    const res = await herald.publish({ recipients: ['pat'], type: 'load.test', content: 'refused' }, token);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(res.body.error.code, 'overloaded');
    assert.equal((await fetch(`${herald.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  test('a batch publish gets 503 overloaded with Retry-After, as a single publish does', async (t) => {
    await overload(t);
    const token = await herald.token('pat', { scope: 'publish' });
    const res = await fetch(`${herald.url}/v1/notifications/batch`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ notifications: [{ recipients: ['pat'], type: 'load.test', content: 'refused' }] }),
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'overloaded');
  });

  test('/readyz says overloaded, herald_overloaded is 1 and herald_overload_shed_total counts each refusal', async (t) => {
    const before = await herald.metric('herald_overload_shed_total{reason="eventLoopDelay",route="stream"}');
    await overload(t);
    const ready = await fetch(`${herald.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get('retry-after'), '7');
    const body = (await ready.json()) as { error: { code: string }; checks: Record<string, boolean> };
    assert.equal(body.error.code, 'overloaded');
    assert.deepEqual(body.checks, { database: true, broker: true, load: false });
    assert.equal(await herald.metric('herald_overloaded'), 1);
    assert.equal(await herald.metric('herald_ready'), 0);
    await newStreamStatus(await herald.token('quinn', { scope: 'subscribe' }));
    assert.equal(await herald.metric('herald_overload_shed_total{reason="eventLoopDelay",route="stream"}'), before + 1);
  });

  test('once the load ends the node is ready again and accepts new streams', async () => {
    await fetch(`${herald.url}/test/stall?ms=120000&slice_ms=300`, { method: 'POST' });
    await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 503, 'herald to report overload', 30_000, 100);
    await fetch(`${herald.url}/test/stall`, { method: 'DELETE' });
    await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 200, 'herald ready again', 30_000, 100);
    assert.equal(await herald.metric('herald_overloaded'), 0);
    const stream = await openStream(herald.url, await herald.token('rita', { scope: 'subscribe' }));
    try {
      assert.equal(stream.status, 200);
      await stream.waitForEvents('ready', 1);
    } finally {
      stream.close();
    }
  });
});
