import { Connection } from 'rabbitmq-client';
import type { Logger } from '../log.js';

/**
 * One connection per node for the bus and the queue ingest. rabbitmq-client reconnects by
 * itself (backoff from 200 ms up to 5 s) and re-declares every consumer's and publisher's
 * topology; nothing here waits for the broker, so a node starts while it is away.
 */
export function openAmqpConnection(url: string, log: Logger): Connection {
  const connection = new Connection({
    url,
    connectionName: `herald ${process.pid}`,
    retryLow: 200,
    retryHigh: 5000,
    heartbeat: 15,
    connectionTimeout: 5000,
    acquireTimeout: 10_000,
  });
  connection.on('error', (err: unknown) => log.warn({ err }, 'RabbitMQ connection error; reconnecting'));
  connection.on('connection', () => log.info('RabbitMQ connected'));
  return connection;
}
