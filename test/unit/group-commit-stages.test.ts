// The group commit reports its two stages (the queue, then the transaction) so that the
// metrics can say where a slow publish waited. A fake writer holds each transaction until
// the test lets it go: pure logic, no database.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupCommit, type BatchWriter, type CommitObserver, type Outcome } from '../../src/store/group-commit.js';
import { HeraldError } from '../../src/errors.js';
import { waitFor } from '../helpers/wait.js';

/** A writer whose transactions each wait for `release()`; `fail` makes the next one throw. */
function heldWriter() {
  const held: { requests: readonly string[]; release(): void }[] = [];
  let fail: Error | null = null;
  const writer: BatchWriter<string, string> = {
    write(requests) {
      return new Promise<Outcome<string>[]>((resolve, reject) => {
        const error = fail;
        fail = null;
        held.push({ requests, release: () => (error ? reject(error) : resolve(requests.map((r) => ({ ok: true, value: r })))) });
      });
    },
  };
  return { writer, held, failNext: (err: Error) => { fail = err; } };
}

function recording() {
  const started: number[][] = [];
  const finished: { requests: number; seconds: number }[] = [];
  const observer: CommitObserver = {
    started: (waited) => started.push([...waited]),
    finished: (requests, seconds) => finished.push({ requests, seconds }),
  };
  return { observer, started, finished };
}

/** A group commit over a held writer, its stages recorded. */
function observedCommit() {
  const writer = heldWriter();
  const commit = new GroupCommit(writer.writer, { maxRequests: 256, maxWeight: 4000 }, () => 1);
  const seen = recording();
  commit.observe(seen.observer);
  return { commit, held: writer.held, failNext: writer.failNext, ...seen };
}

test('each transaction reports one queue wait per submission when it starts, and its size when it ends', async () => {
  const { commit, held, ...seen } = observedCommit();
  const first = commit.submit('a');
  await waitFor(() => held.length === 1, 'the first transaction');
  // Submitted while the first transaction runs: they share the next one.
  const rest = [commit.submit('b'), commit.submitTogether(['c', 'd'])];
  assert.equal(seen.started.length, 1);
  held[0]?.release();
  await first;
  await waitFor(() => held.length === 2, 'the second transaction');
  held[1]?.release();
  await Promise.all(rest);
  assert.deepEqual(seen.started.map((waits) => waits.length), [1, 2], 'one wait per submission (a batch is one)');
  assert.deepEqual(seen.finished.map((f) => f.requests), [1, 3], 'publishes per transaction');
});

test('a publish queued behind a transaction waited no longer than that transaction ran', async () => {
  const { commit, held, ...seen } = observedCommit();
  const first = commit.submit('a');
  await waitFor(() => held.length === 1, 'the first transaction');
  const second = commit.submit('b');
  held[0]?.release();
  await first;
  await waitFor(() => held.length === 2, 'the second transaction');
  held[1]?.release();
  await second;
  const queued = seen.started[1]?.[0] as number;
  const firstRan = seen.finished[0]?.seconds as number;
  assert.ok(queued > 0, `queued ${queued} s`);
  assert.ok(queued <= firstRan, `queued ${queued} s, the transaction ahead ran ${firstRan} s`);
});

test('a transaction that failed as a whole still reports its end', async () => {
  const { commit, held, failNext, ...seen } = observedCommit();
  failNext(new HeraldError('unavailable', 'the database is away'));
  const refused = commit.submit('a');
  await waitFor(() => held.length === 1, 'the first transaction');
  held[0]?.release();
  await assert.rejects(refused, /away/);
  assert.deepEqual(seen.finished.map((f) => f.requests), [1]);
});
