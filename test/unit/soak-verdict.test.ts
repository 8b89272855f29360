// The churn soak's verdict (bench/report.ts) tells a leak, which is still rising at the end
// of the run, from memory that rose while caches and allocator arenas warmed up and then held.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soakVerdict, type FlatCheck } from '../../bench/report.js';

const STREAMS = 2000;

/** Rows for minutes 0..30, one a minute: RSS from `rss(minute)`, heap and descriptors flat. */
function rows(rss: (minute: number) => number) {
  return Array.from({ length: 31 }, (_, minute) => ({ run: minute, minute, rssFloorMiB: rss(minute), heapFloorMiB: 36 + (minute % 2), fds: 1940 + (minute % 3) }));
}

const rssCheck = (checks: FlatCheck[]) => checks.find((c) => c.name.startsWith('RSS')) as FlatCheck;

test('RSS that rises for ten minutes and then holds for twenty is judged levelled off, not grown', () => {
  const check = rssCheck(soakVerdict(rows((m) => 167 + 2.6 * Math.min(m, 10) + (m % 2)), STREAMS));
  assert.equal(check.grew, false);
  assert.equal(check.levelled, true);
});

test('RSS still rising through the last third of the run is judged grown', () => {
  const check = rssCheck(soakVerdict(rows((m) => 167 + 1.5 * m + (m % 2)), STREAMS));
  assert.equal(check.grew, true);
  assert.equal(check.levelled, false);
});

test('RSS that moves only within the tolerance is judged flat', () => {
  const check = rssCheck(soakVerdict(rows((m) => 170 + 3 * (m % 3)), STREAMS));
  assert.equal(check.flat, true);
  assert.equal(check.grew, false);
  assert.equal(check.levelled, false);
});

test('malloc arenas still rising are judged grown even while the V8 heap\'s swings keep RSS within its tolerance', () => {
  const runs = rows((m) => 170 + 3 * (m % 3)).map((r) => ({ ...r, mainArenaMiB: 8 + 0.3 * r.minute, threadArenasMiB: 31 + 0.4 * r.minute }));
  const arenas = soakVerdict(runs, STREAMS).find((c) => c.name.startsWith('malloc')) as FlatCheck;
  assert.equal(arenas.grew, true);
});

test('a soak stored before the arenas were read is judged on RSS, heap and descriptors alone', () => {
  const names = soakVerdict(rows(() => 170), STREAMS).map((c) => c.name);
  assert.deepEqual(names.filter((n) => n.startsWith('malloc')), []);
  assert.equal(names.length, 3);
});
