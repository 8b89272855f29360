// Writes and the event loop. The SQLite publish writer's thread dies (forced here with Worker.terminate, as a native
// crash or an out-of-memory would end it): publishes answer 503 meanwhile, /readyz's
// database check fails, and a new thread takes over, with nothing else restarted.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { HeraldError } from '../../src/errors.js';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import { openStore } from '../../src/store/open-store.js';
import { openSqliteHandle } from '../../src/store/sqlite-handle.js';
import { waitFor } from '../helpers/wait.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };
const request = (content: string) => toPublishRequest({ recipients: ['alice'], type: 'n', content }, 'app', LIMITS);

async function storeWithThreads(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-writer-'));
  const workers: Worker[] = [];
  const store = await openStore(join(dir, 'herald.db'), {
    spawnWriter: (path, synchronous) => {
      const worker = new Worker(new URL('../../src/store/sqlite-worker.js', import.meta.url), { workerData: { path, synchronous } });
      workers.push(worker);
      return worker;
    },
  });
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await store.migrate();
  return { store, workers };
}

const pingOk = (store: { ping(): Promise<void> }) => store.ping().then(() => true, () => false);

test('after the writer thread dies, a new one is started and publishes are stored again', async (t) => {
  const { store, workers } = await storeWithThreads(t);
  assert.equal((await store.publish(request('before'))).events.length, 1);
  await workers[0]?.terminate();
  await waitFor(() => workers.length === 2, 'a second writer thread', 10_000);
  await waitFor(async () => (await store.publish(request('after')).then(() => true, () => false)), 'a publish to be stored again', 10_000);
  assert.equal((await store.heads(['user:alice'])).get('user:alice'), 2);
});

test('while no writer thread runs, a publish answers unavailable (503), not an internal error', async (t) => {
  const { store, workers } = await storeWithThreads(t);
  await workers[0]?.terminate();
  // terminate() resolves once 'exit' was handled; the restart comes 100 ms later at the earliest.
  const err = await store.publish(request('during')).then(() => null, (e: unknown) => e);
  assert.equal(workers.length, 1);
  assert.ok(err instanceof HeraldError, String(err));
  assert.equal(err.code, 'unavailable');
});

test('the database check of /readyz (store.ping) fails while no writer thread runs and passes once one does', async (t) => {
  const { store, workers } = await storeWithThreads(t);
  assert.equal(await pingOk(store), true);
  await workers[0]?.terminate();
  assert.equal(await pingOk(store), false);
  assert.equal(workers.length, 1, 'checked before the restart');
  await waitFor(() => pingOk(store), 'ping to pass with the new thread', 10_000);
});

test('a SQLite file store reports its writer thread\'s own V8 heap: some used, within what is taken', async (t) => {
  const { store } = await storeWithThreads(t);
  const heap = await store.writerHeap?.();
  assert.ok(heap, 'a figure');
  assert.ok(heap.used > 0 && heap.used <= heap.total, JSON.stringify(heap));
});

test('a store that writes on the main thread (SQLite in memory) has no writer heap to report', async (t) => {
  const store = await openStore(':memory:');
  t.after(() => store.close());
  assert.equal(await store.writerHeap?.(), null);
});

test('an idle scheduler look (nothing due) only reads: it neither waits for nor fails on a write lock another connection holds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-idle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'herald.db');
  const idle = await openStore(file);
  t.after(() => idle.close());
  await idle.migrate();
  const holder = await openSqliteHandle(file, 'full');
  holder.prepare('BEGIN IMMEDIATE').run([]);
  t.after(() => {
    holder.prepare('ROLLBACK').run([]);
    holder.close();
  });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  assert.deepEqual(await idle.deliverDue(new Date().toISOString(), 10), []);
  loop.disable();
  // Waiting for the lock would have blocked the loop for the 5 s busy timeout.
  assert.ok(loop.max / 1e6 < 1000, `the event loop was held ${Math.round(loop.max / 1e6)} ms`);
});
