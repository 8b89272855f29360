// Work that grows with the streams of a node must not hold its event loop: when a broadcast
// expires, every audience on the node is recounted. A real Herald process with 1500 open
// streams whose counts each read 6000 stored broadcast notifications; /healthz is asked every 20 ms meanwhile, and its slowest answer is the stall.
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { test, type TestContext } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

const STREAMS = 1500;
/** Broadcast notifications already stored: each reader's count reads them. */
const BACKLOG = 6000;

/** A bare stream client (no parser): the test looks for `event:` lines in what arrived. */
interface RawStream { text: string; request: ClientRequest }

async function rawStreams(t: TestContext, herald: HeraldProcess, count: number): Promise<RawStream[]> {
  const streams: RawStream[] = [];
  for (let i = 0; i < count; i++) {
    const token = await herald.token(`reader${i}`, { scope: 'subscribe' });
    const stream: RawStream = { text: '', request: httpRequest(`${herald.url}/v1/stream`, { headers: { authorization: `Bearer ${token}` } }) };
    stream.request.on('response', (res) => res.on('data', (chunk: Buffer) => { stream.text += chunk.toString(); }));
    stream.request.on('error', () => {});
    stream.request.end();
    streams.push(stream);
  }
  t.after(() => { for (const stream of streams) stream.request.destroy(); });
  await waitFor(() => streams.every((s) => s.text.includes('event: ready')), `${count} streams ready`, 120_000, 100);
  return streams;
}

test(`an expiring broadcast with ${STREAMS} open streams does not stall the node`, async (t) => {
  const herald = await startHerald({ env: { HERALD_MAX_CONNECTIONS_PER_IP: '5000', HERALD_PUBLISH_RATE_PER_MINUTE: '100000' } });
  t.after(() => herald.stop());
  const publisher = await herald.token('publisher', { scope: 'publish' });
  for (let i = 0; i < BACKLOG; i += 50) {
    const batch = Array.from({ length: 50 }, (_, j) => herald.publish({ topic: 'broadcast', type: 'news', content: `old ${i + j}` }, publisher));
    for (const answer of await Promise.all(batch)) assert.equal(answer.status, 202);
  }
  const streams = await rawStreams(t, herald, STREAMS);
  const expiresAt = new Date(Date.now() + 2000).toISOString();
  assert.equal((await herald.publish({ topic: 'broadcast', type: 'flash', content: 'sale', expires_at: expiresAt })).status, 202);
  let slowestMs = 0;
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const started = performance.now();
      await (await fetch(`${herald.url}/healthz`)).text();
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  await waitFor(() => streams.every((s) => s.text.includes('event: notification.expired')), 'the expiry on every stream', 60_000, 50);
  polling = false;
  await poll;
  t.diagnostic(`slowest /healthz while ${STREAMS} audiences were recounted: ${Math.round(slowestMs)} ms`);
  assert.ok(slowestMs < 200, `/healthz took ${Math.round(slowestMs)} ms`);
});
