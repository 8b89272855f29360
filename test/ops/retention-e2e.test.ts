// Retention as Herald runs it: the background worker started by the server purges a
// redeemed stream ticket once it has expired, and reports the pass in its metrics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

describe('retention in a running Herald', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await startHerald({ env: { HERALD_RETENTION_INTERVAL_S: '1', HERALD_TICKET_TTL_S: '5' } });
  });
  after(() => herald?.stop());

  test('a redeemed ticket is deleted by the background pass once expired, and the pass is counted', async () => {
    const token = await herald.token('tess', { scope: 'subscribe' });
    const issued = await fetch(`${herald.url}/v1/stream/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const { ticket } = (await issued.json()) as { ticket: string };
    const res = await fetch(`${herald.url}/v1/stream?ticket=${encodeURIComponent(ticket)}`, { headers: { accept: 'text/event-stream' } });
    if (res.status !== 200) assert.fail(`stream refused: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    await waitFor(async () => (await herald.metric('herald_retention_deleted_total{kind="tickets"}')) === 1, 'the expired ticket to be purged', 30_000, 200);
    assert.ok((await herald.metric('herald_retention_last_success_timestamp_seconds')) > Date.now() / 1000 - 60);
  });
});
