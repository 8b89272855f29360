// Two nodes whose clocks differ by 90 s. The second runs under libfaketime (Debian's
// faketime package, preloaded with FAKETIME=+90s): the process's own wall clock is off, as a
// VM without NTP is,
// while its timers, the kernel and every other process keep real time; that is the fault
// as it happens. Each node keeps the database's time (src/store/database-clock.ts), so
// both judge schedules, expiries and tokens alike: nothing is early or late by the skew.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { createAmqpVhost, createPgDatabase, lockServices } from '../helpers/services.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const SKEW_S = 90;
const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']
  .map((dir) => `${dir}/faketime/libfaketime.so.1`).find((path) => existsSync(path)) ?? 'libfaketime.so.1 (install faketime)';
/** How far a judged moment may be from the real one: the offset is measured to the round trip. */
const ERROR_MS = 1000;

describe('two nodes whose clocks differ by 90 s', () => {
  let db: Awaited<ReturnType<typeof createPgDatabase>>;
  let vhost: Awaited<ReturnType<typeof createAmqpVhost>>;
  const unlock: Array<() => void> = [];
  let cluster: Cluster;
  let skewed: Cluster['nodes'][number];
  let right: Cluster['nodes'][number];

  before(async () => {
    // The services' lock for the whole file (a fault test elsewhere restarts them).
    await lockServices({ after: (fn: () => void) => unlock.push(fn) } as unknown as TestContext);
    db = await createPgDatabase();
    vhost = await createAmqpVhost();
    cluster = await startCluster({
      nodes: 2, databaseUrl: db.url, amqpUrl: vhost.url, env: { HERALD_DRAIN_MS: '0' },
      // `env` execs node (the faketime command forks it, and a kill would orphan the node).
      node: (i) => (i === 1 ? { spawnPrefix: ['env', `LD_PRELOAD=${LIBFAKETIME}`, `FAKETIME=+${SKEW_S}s`] } : {}),
    });
    [right, skewed] = cluster.nodes as [typeof right, typeof skewed];
  });
  after(async () => {
    await cluster?.stop();
    await vhost?.drop();
    await db?.drop();
    for (const release of unlock) release();
  });

  test('the skewed node measures its clock against the database\'s and reports the offset', async () => {
    assert.ok(Math.abs((await skewed.metric('herald_clock_offset_seconds')) + SKEW_S) < 2, 'about -90 s');
    assert.ok(Math.abs(await right.metric('herald_clock_offset_seconds')) < 2, 'about 0');
    await waitFor(() => skewed.logs.some((line) => line.includes(`this node's clock is ${SKEW_S} s ahead of the database's`)), 'the warning in the log', 5000);
  });

  test('a notification scheduled 6 s ahead is delivered once, not early, to streams on both nodes', async (t) => {
    const token = await cluster.token('sked', { scope: 'subscribe' });
    const streams = await Promise.all([right, skewed].map((node) => openStream(node.url, token)));
    t.after(() => streams.forEach((s) => s.close()));
    await Promise.all(streams.map((s) => s.waitForEvents('ready', 1)));
    const deliverAt = Date.now() + 6000;
    // Published on the skewed node: by its own clock it would be due 84 s ago.
    assert.equal((await cluster.publish(skewed.url, { recipients: ['sked'], type: 'n', content: 'later', deliver_at: new Date(deliverAt).toISOString() })).status, 202);
    for (const stream of streams) {
      const [event] = await stream.waitForEvents('notification', 1, 20_000);
      assert.ok(Date.now() >= deliverAt - ERROR_MS, `delivered ${deliverAt - Date.now()} ms early`);
      assert.equal(event?.data.content, 'later');
    }
    // Once: nothing more arrives after a later notification.
    await cluster.publish(right.url, { recipients: ['sked'], type: 'n', content: 'marker' });
    for (const stream of streams) {
      await waitFor(() => stream.of('notification').some((e) => e.data.content === 'marker'), 'the marker', 10_000);
      assert.deepEqual(stream.of('notification').map((e) => e.data.content), ['later', 'marker']);
    }
  });

  test('an expiry 6 s ahead is announced once, not early, on both nodes', async (t) => {
    const token = await cluster.token('exp', { scope: 'subscribe' });
    const streams = await Promise.all([right, skewed].map((node) => openStream(node.url, token)));
    t.after(() => streams.forEach((s) => s.close()));
    await Promise.all(streams.map((s) => s.waitForEvents('ready', 1)));
    const expiresAt = Date.now() + 6000;
    assert.equal((await cluster.publish(right.url, { recipients: ['exp'], type: 'n', content: 'brief', expires_at: new Date(expiresAt).toISOString() })).status, 202);
    for (const stream of streams) {
      const [expired] = await stream.waitForEvents('notification.expired', 1, 20_000);
      assert.ok(Date.now() >= expiresAt - ERROR_MS, `announced ${expiresAt - Date.now()} ms early`);
      assert.equal(expired?.data.unread_count, 0);
    }
    await cluster.publish(right.url, { recipients: ['exp'], type: 'n', content: 'marker' });
    for (const stream of streams) {
      await waitFor(() => stream.of('notification').some((e) => e.data.content === 'marker'), 'the marker', 10_000);
      assert.equal(stream.of('notification.expired').length, 1);
    }
  });

  test('a token with 40 s left is accepted by the node 90 s ahead (its tolerance is 30 s)', async () => {
    const token = await cluster.token('tok', { scope: 'subscribe', ttlS: 40 });
    const res = await fetch(`${skewed.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  });

  test('a token that expired 40 s ago is refused by the node 90 s ahead and by the other alike', async () => {
    const token = await cluster.token('tok', { scope: 'subscribe', ttlS: -40 });
    for (const node of [right, skewed]) {
      const res = await fetch(`${node.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401, node.url);
    }
  });
});
