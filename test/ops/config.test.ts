// The operations settings (overload bounds, retention) and their validation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { ConfigError, loadConfig } from '../../src/config.js';

test('operations defaults: shed at 1 s of event-loop delay or 90 % of the V8 heap, keep a year, forget idempotency keys after a day', () => {
  const c = loadConfig({});
  assert.equal(c.shedEventLoopDelayMs, 1000);
  assert.equal(c.shedHeapUsedMb, Math.floor((getHeapStatistics().heap_size_limit * 0.9) / 1024 / 1024));
  assert.equal(c.shedRssMb, 0);
  assert.equal(c.shedRetryAfterS, 10);
  assert.equal(c.retentionDays, 365);
  assert.equal(c.idempotencyTtlHours, 24);
  assert.equal(c.retentionIntervalS, 3600);
  assert.equal(c.retentionBatchSize, 500);
  assert.equal(c.testKnobs, false);
});

test('HERALD_RETENTION_DAYS=0 keeps everything and 0 turns a shedding bound off', () => {
  const c = loadConfig({ HERALD_RETENTION_DAYS: '0', HERALD_SHED_EVENT_LOOP_DELAY_MS: '0', HERALD_SHED_HEAP_MB: '0' });
  assert.equal(c.retentionDays, 0);
  assert.equal(c.shedEventLoopDelayMs, 0);
  assert.equal(c.shedHeapUsedMb, 0);
});

test('a negative retention names the variable', () => {
  assert.throws(() => loadConfig({ HERALD_RETENTION_DAYS: '-1' }), (err: Error) => err instanceof ConfigError && /^HERALD_RETENTION_DAYS must be an integer from 0 to 100000/.test(err.message));
});

test('a zero retention batch names the variable', () => {
  assert.throws(() => loadConfig({ HERALD_RETENTION_BATCH_SIZE: '0' }), (err: Error) => err instanceof ConfigError && /^HERALD_RETENTION_BATCH_SIZE must be an integer from 1/.test(err.message));
});

test('a shedding bound that is not a number names the variable', () => {
  assert.throws(() => loadConfig({ HERALD_SHED_RSS_MB: '2GB' }), (err: Error) => err instanceof ConfigError && /^HERALD_SHED_RSS_MB must be an integer/.test(err.message));
});

test('HERALD_TEST_KNOBS accepts only true or false', () => {
  assert.throws(() => loadConfig({ HERALD_TEST_KNOBS: 'yes' }), (err: Error) => err instanceof ConfigError && /^HERALD_TEST_KNOBS must be true or false/.test(err.message));
});
