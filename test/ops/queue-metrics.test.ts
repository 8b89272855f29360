// The ingest queue gauges read from a real RabbitMQ: a malformed message lands in the
// dead-letter queue and the next scrape shows it, as the HeraldDeadLetters alert expects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Publisher } from 'rabbitmq-client';
import type { HeraldProcess } from '../helpers/herald.js';
import { startQueueHerald, type QueueHerald } from '../helpers/queue-herald.js';
import { waitFor } from '../helpers/wait.js';

describe('ingest queue metrics', () => {
  let herald: HeraldProcess;
  let queue: QueueHerald;
  let ingest: Publisher;

  before(async () => {
    queue = await startQueueHerald();
    ({ herald, ingest } = queue);
  });
  after(() => queue?.stop());

  test('with RabbitMQ the node reads both queue depths at each scrape', async () => {
    await waitFor(async () => (await herald.metric('herald_ingest_queue_probe_ok')) === 1, 'the queue probe to succeed', 30_000, 200);
    assert.equal(await herald.metric('herald_ingest_queue_messages'), 0);
  });

  test('a dead-lettered message shows in herald_ingest_dead_letter_messages', async () => {
    const before = await herald.metric('herald_ingest_dead_letter_messages');
    await ingest.send({ exchange: 'herald.ingest', routingKey: 'notification', durable: true, contentType: 'application/json', messageId: 'bad-1' }, Buffer.from('{not json'));
    await waitFor(async () => (await herald.metric('herald_ingest_dead_letter_messages')) === before + 1, 'the dead letter to be counted', 30_000, 200);
  });
});
