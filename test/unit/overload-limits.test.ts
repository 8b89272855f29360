// Which limit puts a node under pressure decides whether its first second counts: start-up
// work delays the event loop, but memory over its limit is load whenever it happens.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { onlyLoopDelayOver } from '../../src/http/operations.js';

const MIB = 1024 * 1024;
const limits = { shedHeapUsedMb: 100, shedRssMb: 200 };

test('memory under both limits: only the loop delay can be what is over', () => {
  assert.equal(onlyLoopDelayOver({ heapUsed: 99 * MIB, rssBytes: 199 * MIB }, limits), true);
});

test('heap over HERALD_SHED_HEAP_MB: memory is over too', () => {
  assert.equal(onlyLoopDelayOver({ heapUsed: 101 * MIB, rssBytes: 10 * MIB }, limits), false);
});

test('RSS over HERALD_SHED_RSS_MB: memory is over too', () => {
  assert.equal(onlyLoopDelayOver({ heapUsed: 10 * MIB, rssBytes: 201 * MIB }, limits), false);
});

test('a limit of 0 is off: any memory is under it', () => {
  assert.equal(onlyLoopDelayOver({ heapUsed: 10_000 * MIB, rssBytes: 10_000 * MIB }, { shedHeapUsedMb: 0, shedRssMb: 0 }), true);
});
