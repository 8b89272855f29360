// The CLI against PostgreSQL and RabbitMQ: the command-line tests that need a service, kept
// apart from test/e2e/cli.test.ts so that the end-to-end tests run with no service started.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CLI, startHerald } from '../helpers/herald.js';
import { createAmqpVhost, requireEnv } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

function herald(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

test('migrate on a missing PostgreSQL database: exit 1, one line naming the database', () => {
  const url = new URL(requireEnv('HERALD_TEST_PG_URL'));
  url.pathname = `/herald_missing_${randomBytes(4).toString('hex')}`;
  const result = herald(['migrate'], { HERALD_DATABASE_URL: url.toString(), HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 1);
  assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, `one line, got: ${result.stderr}`);
  assert.match(result.stderr.trim(), new RegExp(`^herald: cannot migrate postgres.*${url.pathname}: database "${url.pathname.slice(1)}" does not exist$`));
});

test('publish --amqp sends the notification through RabbitMQ and Herald stores it', async (t) => {
  const vhost = await createAmqpVhost();
  t.after(() => vhost.drop());
  const server = await startHerald({ env: { HERALD_AMQP_URL: vhost.url } });
  t.after(() => server.stop());
  const result = herald(['publish', '--amqp', vhost.url, '--to', 'alice', '--type', 'invoice.paid', '--content', 'Invoice 42 is paid', '--idempotency-key', 'invoice-42']);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), { published: { exchange: 'herald.ingest', routing_key: 'notification', message_id: 'invoice-42' } });
  const token = await server.token('alice');
  await waitFor(async () => {
    const page = await (await fetch(`${server.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } })).json() as { items: { content: string; type: string }[] };
    return page.items.some((n) => n.content === 'Invoice 42 is paid' && n.type === 'invoice.paid');
  }, 'the notification published through RabbitMQ to reach the inbox');
});
