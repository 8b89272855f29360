// The SQLite writer thread's heap is the one part of the process's memory that neither
// prom-client's heap figures (the main thread's) nor native memory would show: /metrics
// reports it, so an operator can tell it from the rest of the RSS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';

test('an embedded node\'s /metrics reports its SQLite writer thread\'s heap, used within total', async (t) => {
  const herald = await startHerald();
  t.after(() => herald.stop());
  const used = await herald.metric('herald_writer_heap_bytes{kind="used"}');
  const total = await herald.metric('herald_writer_heap_bytes{kind="total"}');
  assert.ok(used > 0, `used ${used}`);
  assert.ok(used <= total, `used ${used}, total ${total}`);
});
