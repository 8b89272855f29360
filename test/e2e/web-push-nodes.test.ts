// Web Push across two Herald nodes on one PostgreSQL database (README.md, "Web Push"): a stream open on
// one node keeps the other from pushing, and a queue claimed by both sends each push once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { generateVapidKeys } from '../../src/push/vapid-keys.js';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { startPushService, type StandInPushService } from '../helpers/push-service.js';
import { openStream } from '../helpers/sse-client.js';
import { createPgDatabase, lockServices, withPg } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { pushEnv, skipped } from './push-harness.js';
import { call } from './store-backends.js';

async function twoNodes(t: TestContext): Promise<{ a: HeraldProcess; b: HeraldProcess; service: StandInPushService; dbUrl: string }> {
  await lockServices(t);
  const service = await startPushService();
  const db = await createPgDatabase();
  const env = { ...pushEnv(service, generateVapidKeys()), HERALD_DATABASE_URL: db.url, HERALD_JWT_SECRET: randomBytes(32).toString('base64url') };
  const a = await startHerald({ env });
  const b = await startHerald({ env });
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await service.close();
    await db.drop();
  });
  return { a, b, service, dbUrl: db.url };
}

test('a user with a stream open on the other node gets no push', async (t) => {
  const { a, b, service, dbUrl } = await twoNodes(t);
  const token = await a.token('alice', { scope: 'subscribe' });
  assert.equal((await call(a, 'POST', '/v1/push/subscriptions', token, service.subscribe())).status, 201);
  const stream = await openStream(b.url, token);
  t.after(() => stream.close());
  await stream.waitForEvents('ready', 1);
  await waitFor(() => withPg(dbUrl, async (client) => (await client.query('select 1 from push_presence where user_id = $1', ['alice'])).rowCount === 1 || null), 'node B to record alice');
  // Frozen, node B cannot decide: node A does, from what B recorded.
  b.signal('SIGSTOP');
  t.after(() => b.signal('SIGCONT'));
  await a.publish({ recipients: ['alice'], type: 'alert', content: 'x' });
  await skipped(a, 'present');
  assert.equal(service.received.length, 0);
});

test('two nodes sending from one queue send each push once', async (t) => {
  const { a, b, service } = await twoNodes(t);
  const token = await a.token('alice', { scope: 'subscribe' });
  assert.equal((await call(a, 'POST', '/v1/push/subscriptions', token, service.subscribe())).status, 201);
  for (let i = 0; i < 30; i++) await (i % 2 === 0 ? a : b).publish({ recipients: ['alice'], type: 'alert', content: `n${i}`, push: 'always' });
  await service.waitForAccepted(30);
  await waitFor(async () => (await a.metric('herald_push_queue_depth')) === 0 || null, 'the push queue to empty');
  const bodies = service.received.map((r) => r.payload.notification.body);
  assert.equal(bodies.length, 30);
  assert.equal(new Set(bodies).size, 30);
  const byNode = [await a.metric('herald_push_sent_total{result="sent"}'), await b.metric('herald_push_sent_total{result="sent"}')];
  assert.equal(byNode[0]! + byNode[1]!, 30, `sent by node: ${byNode}`);
});
