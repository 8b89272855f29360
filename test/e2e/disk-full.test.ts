// A full disk under embedded Herald (SQLite on a small tmpfs the test mounts, as root):
// publishing answers 503 `unavailable` with Retry-After, never a 500 and never a 202 for
// something not stored; streams and reads keep answering; /readyz says why; once space is
// freed, publishing resumes by itself; and every accepted notification survives a restart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { openStream, type TestStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import { call } from './store-backends.js';

/** Big enough for Herald's database and WAL to start, small enough to fill in a few hundred publishes. */
const DISK = '12m';
const FILLER_BYTES = 6 * 1024 * 1024;
/** Publishes tried before giving up on filling the disk (each ~16 KB). */
const MAX_PUBLISHES = 2000;

describe('a full disk under embedded Herald', () => {
  let mount: string;
  let herald: HeraldProcess;
  let stream: TestStream;
  let token: string;
  const accepted: string[] = [];
  let refusal: { status: number; code: string | undefined; retryAfter: string | null } | null = null;
  const content = 'x'.repeat(16_000);

  before(async () => {
    mount = mkdtempSync(join(tmpdir(), 'herald-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK}`, 'tmpfs', mount]);
    // Space the test gives back later.
    writeFileSync(join(mount, 'filler'), Buffer.alloc(FILLER_BYTES));
    herald = await startHerald({ env: { HERALD_DATABASE_URL: join(mount, 'herald.db') } });
    token = await herald.token('alice', { scope: 'subscribe' });
    stream = await openStream(herald.url, token);
    await stream.waitForEvents('ready', 1);
    for (let i = 0; i < MAX_PUBLISHES && refusal === null; i++) {
      const answer = await herald.publish({ recipients: ['alice'], type: 'fill', content: `${i} ${content}` });
      if (answer.status === 202) accepted.push(answer.body.notifications[0].id);
      else refusal = { status: answer.status, code: answer.body?.error?.code, retryAfter: answer.headers.get('retry-after') };
    }
  });
  after(async () => {
    stream?.close();
    await herald?.stop();
    try {
      execFileSync('umount', ['-l', mount]);
    } finally {
      rmSync(mount, { recursive: true, force: true });
    }
  });

  test('publishing into a full disk answers 503 unavailable with Retry-After, never a 500', () => {
    assert.ok(accepted.length > 0, 'some publishes were accepted before the disk filled');
    assert.deepEqual(refusal && { status: refusal.status, code: refusal.code }, { status: 503, code: 'unavailable' });
    assert.ok(Number(refusal?.retryAfter) >= 1, `Retry-After: ${refusal?.retryAfter}`);
  });

  test('the open stream got every accepted notification, and reads still answer', async () => {
    const events = await stream.waitForEvents('notification', accepted.length);
    assert.deepEqual(events.map((e) => e.data.id), accepted);
    assert.equal((await call(herald, 'GET', '/v1/notifications/unread-count', token)).body.unread_count, accepted.length);
  });

  test('/readyz says the disk is full', async () => {
    const res = await fetch(`${herald.url}/readyz`);
    const body = await res.json() as { error?: { message?: string }; checks?: { database?: boolean } };
    assert.equal(res.status, 503);
    assert.equal(body.checks?.database, false);
    assert.match(body.error?.message ?? '', /disk is full/i);
  });

  test('once space is freed, publishing resumes by itself, and everything accepted survives a restart', async () => {
    rmSync(join(mount, 'filler'));
    await waitFor(async () => {
      const answer = await herald.publish({ recipients: ['alice'], type: 'fill', content: 'after' });
      if (answer.status === 202) accepted.push(answer.body.notifications[0].id);
      return answer.status === 202;
    }, 'a publish to be accepted again', 15_000);
    assert.equal((await fetch(`${herald.url}/readyz`)).status, 200);
    await herald.restart();
    const stored: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(herald, 'GET', `/v1/notifications?limit=100${cursor ? `&cursor=${cursor}` : ''}`, token);
      stored.push(...page.body.items.map((n: { id: string }) => n.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    assert.deepEqual([...stored].sort(), [...accepted].sort());
  });
});
