// A Herald that ingests from its own RabbitMQ vhost, with a confirming publisher on the
// ingest exchange, as the queue tests need it.
import { Connection, type Publisher } from 'rabbitmq-client';
import { startHerald, type HeraldProcess } from './herald.js';
import { createAmqpVhost } from './services.js';
import { waitFor } from './wait.js';

export interface QueueHerald {
  herald: HeraldProcess;
  /** Publishes to `herald.ingest` with broker confirms. */
  ingest: Publisher;
  /** Stops Herald and the publisher, then drops the vhost. */
  stop(): Promise<void>;
}

export async function startQueueHerald(env: Record<string, string> = {}): Promise<QueueHerald> {
  const vhost = await createAmqpVhost();
  const herald = await startHerald({ env: { HERALD_AMQP_URL: vhost.url, ...env } });
  const rabbit = new Connection({ url: vhost.url, retryLow: 100 });
  rabbit.on('error', () => {});
  const ingest = rabbit.createPublisher({ confirm: true, exchanges: [{ exchange: 'herald.ingest', type: 'direct', durable: true }] });
  await waitFor(async () => (await fetch(`${herald.url}/readyz`)).status === 200, 'herald ready', 30_000, 100);
  return {
    herald,
    ingest,
    async stop() {
      await ingest.close();
      await rabbit.close();
      await herald.stop();
      await vhost.drop();
    },
  };
}
