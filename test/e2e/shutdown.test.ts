// SIGTERM while publishes are in flight: each publish that reached Herald gets its answer
// (202 once committed, or 503 + Retry-After if it came too late); none sees its connection
// reset after its row was stored (behind nginx, a 502 that is never retried).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

const WORKERS = 32;

/** The code of a failed fetch's innermost cause (ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET, ...). */
function causeCode(err: unknown): string {
  let current = err as { cause?: unknown; code?: unknown } | undefined;
  for (let depth = 0; depth < 5 && current?.cause; depth++) current = current.cause as typeof current;
  return typeof current?.code === 'string' ? current.code : String(err);
}

test(`SIGTERM while ${WORKERS} publishers publish back to back: every publish that reached Herald is answered, and the 202s are exactly what is stored`, async (t) => {
  const herald = await startHerald({ env: { HERALD_PUBLISH_RATE_PER_MINUTE: '1000000', HERALD_DRAIN_MS: '1000' } });
  t.after(() => herald.stop());
  const token = await herald.token('publisher', { scope: 'publish' });
  const content = 'y'.repeat(20_000);
  let sent = 0;
  const results: string[] = [];
  const publishUntilRefused = async (): Promise<void> => {
    for (;;) {
      const key = `k${sent++}`;
      const result = await fetch(`${herald.url}/v1/notifications`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ recipients: ['bob'], type: 'n', content, idempotency_key: key }),
      }).then(async (res) => {
        await res.text();
        return res.status === 503 && !/^\d+$/.test(res.headers.get('retry-after') ?? '') ? '503 without Retry-After' : String(res.status);
      }, (err: unknown) => causeCode(err));
      results.push(result);
      if (result !== '202') return;
    }
  };
  const workers = Array.from({ length: WORKERS }, () => publishUntilRefused());
  await waitFor(() => results.length >= 200, 'publishes to be flowing', 20_000, 1);
  const exited = herald.kill('SIGTERM');
  // Within the drain window (1 s here) /readyz says the node is going away.
  let readyz = '';
  await waitFor(async () => {
    const res = await fetch(`${herald.url}/readyz`);
    readyz = `${res.status} ${((await res.json()) as { error?: { message: string } }).error?.message ?? ''}`;
    return res.status === 503;
  }, '/readyz to say the node drains', 5_000, 10);
  assert.match(readyz, /^503 .*draining/);
  await Promise.all(workers);
  assert.equal(await exited, 0, 'a clean exit');

  const counts = new Map<string, number>();
  for (const result of results) counts.set(result, (counts.get(result) ?? 0) + 1);
  t.diagnostic(`outcomes: ${JSON.stringify([...counts])}`);
  // Refused connections never reached Herald (nginx tries the next node); anything else must be an answer.
  const unanswered = [...counts].filter(([result]) => !['202', '503', 'ECONNREFUSED'].includes(result));
  assert.deepEqual(unanswered, [], `outcomes: ${JSON.stringify([...counts])}`);

  await herald.restart();
  const unread = await fetch(`${herald.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${await herald.token('bob', { scope: 'subscribe' })}` } });
  assert.equal(((await unread.json()) as { unread_count: number }).unread_count, counts.get('202') ?? 0, 'stored = answered 202');
});
