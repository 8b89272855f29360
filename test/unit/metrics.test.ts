// A fresh node's labelled counters already have their samples, at 0: dashboards and alert
// expressions over them show 0 rather than "No data" until the first event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../src/metrics.js';

const fresh = async () => (await new Metrics().registry.metrics()).split('\n');

test('herald_published_total has a 0 sample per source on a fresh node', async () => {
  const lines = await fresh();
  for (const source of ['http', 'amqp', 'scheduled']) assert.ok(lines.includes(`herald_published_total{source="${source}"} 0`), source);
});

test('herald_stream_closed_total has a 0 sample per close reason on a fresh node', async () => {
  const lines = await fresh();
  for (const reason of ['client', 'slow_consumer', 'token_expired', 'drain']) assert.ok(lines.includes(`herald_stream_closed_total{reason="${reason}"} 0`), reason);
});

test('herald_stream_resets_total and herald_retention_deleted_total start at 0', async () => {
  const lines = await fresh();
  assert.ok(lines.some((l) => /^herald_\w*resets\w*\{reason="unknown_cursor"\} 0$/.test(l)), 'resets');
  assert.ok(lines.some((l) => /^herald_retention\w*\{kind="notifications"\} 0$/.test(l)), 'retention');
});

test('herald_writer_heap_bytes shows the writer thread\'s heap, used and total, at each scrape', async () => {
  const metrics = new Metrics();
  metrics.probes.writerHeap = async () => ({ used: 5_000_000, total: 9_000_000 });
  const lines = (await metrics.registry.metrics()).split('\n');
  assert.ok(lines.includes('herald_writer_heap_bytes{kind="used"} 5000000'), 'used');
  assert.ok(lines.includes('herald_writer_heap_bytes{kind="total"} 9000000'), 'total');
});

test('herald_writer_heap_bytes has no sample on a node without a writer thread (PostgreSQL)', async () => {
  const metrics = new Metrics();
  metrics.probes.writerHeap = async () => null;
  const lines = (await metrics.registry.metrics()).split('\n');
  assert.deepEqual(lines.filter((l) => l.startsWith('herald_writer_heap_bytes{')), []);
});
