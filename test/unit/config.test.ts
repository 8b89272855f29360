import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, describeConfig, loadConfig } from '../../src/config.js';

test('defaults match the configuration table in README.md', () => {
  const c = loadConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.databaseUrl, './data/herald.db');
  assert.equal(c.amqpUrl, null);
  assert.equal(c.heartbeatMs, 15000);
  assert.equal(c.maxConnectionsPerUser, 16);
  assert.equal(c.maxConnectionsPerIp, 2000);
  assert.equal(c.maxConnections, 20000);
  assert.equal(c.drainMs, 10000);
  assert.equal(c.devMode, true);
  assert.ok(Object.isFrozen(c));
});

test('a bad value names the variable and what it expects', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ HERALD_PORT: 'eighty' }, /^HERALD_PORT must be an integer from 0 to 65535 \(got "eighty"\)$/],
    [{ HERALD_PORT: '70000' }, /HERALD_PORT/],
    [{ HERALD_HEARTBEAT_MS: '5' }, /HERALD_HEARTBEAT_MS must be an integer from 100/],
    [{ HERALD_AMQP_URL: 'http://x' }, /HERALD_AMQP_URL must start with amqp:\/\//],
    [{ HERALD_JWT_SECRET: 'short' }, /HERALD_JWT_SECRET must be at least 32 bytes/],
    [{ HERALD_ALLOW_IPS: '10.0.0.0/33' }, /HERALD_ALLOW_IPS must be a comma-separated list/],
    [{ HERALD_LOG_LEVEL: 'loud' }, /HERALD_LOG_LEVEL must be one of/],
  ];
  for (const [env, message] of cases) assert.throws(() => loadConfig(env), (err: Error) => err instanceof ConfigError && message.test(err.message));
});

test('secrets and URL credentials are masked when the config is printed', () => {
  const c = loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(40), HERALD_DATABASE_URL: 'postgres://herald:pw@db/herald' });
  const shown = JSON.stringify(describeConfig(c));
  assert.ok(!shown.includes('x'.repeat(40)));
  assert.ok(!shown.includes(':pw@'));
  assert.equal(c.devMode, false);
});
