// `npm run bench:compare` works for someone with the checkout: at a tiny size it starts each
// peer, measures it, writes a result line per peer with figures in range, prints the table,
// and leaves no server process behind. nchan joins in where its nginx module is installed
// (scripts/run-tests.mjs has scripts/install-system-deps.sh install it first); run by hand
// without it, the test measures the other two rather than install packages.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CompareRecord } from '../../bench/compare/records.js';
import { startProc } from '../helpers/proc.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUNNER = fileURLToPath(new URL('../../bench/compare/run.js', import.meta.url));
const STREAMS = 50;

function groupAlive(group: number): boolean {
  try { process.kill(-group, 0); return true; } catch { return false; }
}

test('the comparison runner measures every peer at a tiny size and stops every server it started', { timeout: 90_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'herald-compare-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const peers = ['better-sse', 'herald', ...(existsSync('/usr/lib/nginx/modules/ngx_nchan_module.so') ? ['nchan'] : [])];
  const run = startProc(t, process.execPath, [RUNNER], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH, PEERS: peers.join(','), SCENARIOS: 'targeted', REPS: '1', STREAMS: String(STREAMS),
      TARGETED_RATE: '100', TARGETED_PUBLISHERS: '2', DURATION_S: '2', SETTLE_S: '1', DRAIN_S: '3', THREADS: '1',
      COMPARE_OUT: out, COMPARE_NAME: 'selftest', DEADLINE_S: '60',
    },
  });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([run.exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), 75_000); })]);
  clearTimeout(timer);
  assert.equal(code, 0, `the runner ended with ${code}:\n${run.stdout()}\n${run.stderr()}`);

  const records = readFileSync(join(out, 'compare-selftest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CompareRecord);
  assert.deepEqual(records.map((r) => r.label).sort(), peers.map((p) => `${p}/targeted/1`).sort());
  for (const r of records) {
    assert.equal(r.runner, 'bench/compare');
    assert.equal(r.conns_connected, STREAMS, `${r.peer}: streams opened`);
    const step = r.steps[0];
    assert.ok(step, `${r.peer}: one step`);
    assert.equal(step.pub_errors, 0, `${r.peer}: publish errors ${JSON.stringify(step.pub_statuses)}`);
    assert.ok(step.published >= 150 && step.published <= 200, `${r.peer}: ${step.published} published of 200 asked`);
    assert.equal(step.expected, step.published, `${r.peer}: one delivery expected per targeted publish`);
    assert.equal(step.delivered, step.expected, `${r.peer}: every publish delivered`);
    assert.equal(step.lost, 0);
    const { p50, p99, max } = step.latency_ms;
    assert.ok(p50 > 0 && p50 <= p99 && p99 <= max && max < 5000, `${r.peer}: latency ${JSON.stringify(step.latency_ms)}`);
    // nchan may use under a tick of CPU at this size: 0 is a reading, not a failure.
    assert.ok(Number.isFinite(step.server_cpu_pct) && step.server_cpu_pct >= 0 && step.server_cpu_pct < 250, `${r.peer}: server CPU ${step.server_cpu_pct}%`);
    assert.ok(r.server_pids.includes(r.server_group), `${r.peer}: the server leads its process group`);
    assert.equal(groupAlive(r.server_group), false, `${r.peer}: its process group ${r.server_group} is gone`);
  }
  assert.match(run.stdout(), /\| targeted: p99 ms \|/);
  assert.ok(existsSync(join(out, 'compare-selftest.env.txt')));
});
