// The ingest queue gauges read from a real RabbitMQ: a malformed message lands in the
// dead-letter queue and the next scrape shows it, as the HeraldDeadLetters alert expects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Connection, type Publisher } from 'rabbitmq-client';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { createAmqpVhost } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

describe('ingest queue metrics', () => {
  let herald: HeraldProcess;
  let vhost: Awaited<ReturnType<typeof createAmqpVhost>>;
  let rabbit: Connection;
  let ingest: Publisher;

  before(async () => {
    vhost = await createAmqpVhost();
    herald = await startHerald({ env: { HERALD_AMQP_URL: vhost.url } });
    rabbit = new Connection({ url: vhost.url, retryLow: 100 });
    rabbit.on('error', () => {});
    ingest = rabbit.createPublisher({ confirm: true, exchanges: [{ exchange: 'herald.ingest', type: 'direct', durable: true }] });
    await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 200, 'herald ready', 30_000, 100);
  });
  after(async () => {
    await ingest?.close();
    await rabbit?.close();
    await herald?.stop();
    await vhost?.drop();
  });

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
