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
