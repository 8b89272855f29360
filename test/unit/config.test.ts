import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { ConfigError, describeConfig, isLoopbackHost, loadConfig, unknownVariables } from '../../src/config.js';

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
  assert.equal(c.workers, 1);
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
  // With a key: development mode's own refusals are not what these cases are about.
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(40), ...env }), (err: Error) => err instanceof ConfigError && message.test(err.message));
  }
});

test('secrets and URL credentials are masked when the config is printed', () => {
  const c = loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(40), HERALD_DATABASE_URL: 'postgres://herald:pw@db/herald' });
  const shown = JSON.stringify(describeConfig(c));
  assert.ok(!shown.includes('x'.repeat(40)));
  assert.ok(!shown.includes(':pw@'));
  assert.equal(c.devMode, false);
});

test('HERALD_WORKERS takes a count or auto (every core Node may use), and refuses anything else', () => {
  const key = { HERALD_JWT_SECRET: 'x'.repeat(40) };
  assert.equal(loadConfig({ ...key, HERALD_WORKERS: '4' }).workers, 4);
  assert.equal(loadConfig({ ...key, HERALD_WORKERS: 'auto' }).workers, availableParallelism());
  for (const bad of ['0', '-1', '2.5', 'all', '257']) {
    assert.throws(() => loadConfig({ ...key, HERALD_WORKERS: bad }), (err: Error) => err instanceof ConfigError
      && err.message === `HERALD_WORKERS must be auto or an integer from 1 to 256 (got "${bad}")`);
  }
});

test('HERALD_WORKERS above 1 refuses an in-memory database (it lives in one process)', () => {
  assert.throws(() => loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(40), HERALD_WORKERS: '2', HERALD_DATABASE_URL: ':memory:' }),
    (err: Error) => err instanceof ConfigError && /^HERALD_WORKERS above 1 needs a database file/.test(err.message));
  assert.equal(loadConfig({ HERALD_JWT_SECRET: 'x'.repeat(40), HERALD_WORKERS: '1', HERALD_DATABASE_URL: ':memory:' }).workers, 1);
});

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return 'accepted';
  } catch (err) {
    return err instanceof ConfigError ? err.message : `not a ConfigError: ${String(err)}`;
  }
};

test('an empty HERALD_JWT_SECRET stops the start instead of turning development mode on', () => {
  assert.equal(refusal({ HERALD_JWT_SECRET: '' }), 'HERALD_JWT_SECRET is set but empty: give it a value or unset it');
});

test('a blank (whitespace-only) key variable stops the start', () => {
  assert.equal(refusal({ HERALD_TICKET_SECRET: ' \t' }), 'HERALD_TICKET_SECRET is set but empty: give it a value or unset it');
});

test('an empty HERALD_METRICS_TOKEN stops the start instead of leaving /metrics unguarded', () => {
  assert.equal(refusal({ HERALD_METRICS_TOKEN: '' }), 'HERALD_METRICS_TOKEN is set but empty: give it a value or unset it');
});

test('development mode refuses a non-loopback HERALD_HOST', () => {
  assert.match(refusal({ HERALD_HOST: '0.0.0.0' }), /^HERALD_HOST=0\.0\.0\.0 is not a loopback address, and development mode/);
});

test('development mode listens on localhost and ::1', () => {
  assert.equal(loadConfig({ HERALD_HOST: 'localhost' }).devMode, true);
  assert.equal(loadConfig({ HERALD_HOST: '::1' }).devMode, true);
});

test('a key on a public interface is not development mode', () => {
  const c = loadConfig({ HERALD_HOST: '0.0.0.0', HERALD_JWT_SECRET: 'x'.repeat(40) });
  assert.equal(c.devMode, false);
});

test('HERALD_DEV_MODE=true beside a key is refused', () => {
  assert.match(refusal({ HERALD_DEV_MODE: 'true', HERALD_JWT_SECRET: 'x'.repeat(40) }), /^HERALD_DEV_MODE=true cannot be combined with HERALD_JWT_SECRET/);
});

test('a public key needs HERALD_JWT_AUDIENCE', () => {
  assert.match(refusal({ HERALD_JWT_PUBLIC_KEY: '/keys/idp.pem' }), /^HERALD_JWT_AUDIENCE is required with HERALD_JWT_PUBLIC_KEY/);
});

test('a JWKS needs HERALD_JWT_ISSUER as well as the audience', () => {
  assert.match(refusal({ HERALD_JWKS_URL: 'https://idp.example/jwks.json', HERALD_JWT_AUDIENCE: 'herald' }), /^HERALD_JWT_ISSUER is required with HERALD_JWKS_URL/);
});

test('a JWKS with audience and issuer is accepted', () => {
  const c = loadConfig({ HERALD_JWKS_URL: 'https://idp.example/jwks.json', HERALD_JWT_AUDIENCE: 'herald', HERALD_JWT_ISSUER: 'https://idp.example' });
  assert.equal(c.devMode, false);
  assert.equal(c.jwtAudience, 'herald');
});

test('isLoopbackHost knows the loopback names and no others', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'localhost.evil.example', '128.0.0.1', '']) assert.equal(isLoopbackHost(host), false, host);
});

test('HERALD_DATABASE_URL of another database (mysql://) is refused instead of naming a SQLite file "mysql:"', () => {
  assert.throws(() => loadConfig({ HERALD_DATABASE_URL: 'mysql://root@db:3306/herald' }),
    (err: Error) => err instanceof ConfigError && err.message === 'HERALD_DATABASE_URL uses mysql://, which Herald does not speak: give a PostgreSQL URL (postgres://user:password@host:5432/db) or a SQLite file path (./data/herald.db)');
});

test('HERALD_DATABASE_URL as a sqlite:// URL is a SQLite file', () => {
  assert.equal(loadConfig({ HERALD_DATABASE_URL: 'sqlite:///tmp/h.db' }).databaseUrl, 'sqlite:///tmp/h.db');
});

test('an unknown HERALD_ variable is named with the closest setting (a typo of HERALD_PORT)', () => {
  assert.deepEqual(unknownVariables({ HERALD_PROT: '9000', HERALD_PORT: '1', PATH: '/bin' }), [{ name: 'HERALD_PROT', closest: 'HERALD_PORT' }]);
});

test('an unknown HERALD_ variable far from every setting is named without a guess', () => {
  assert.deepEqual(unknownVariables({ HERALD_SOMETHING_ELSE_ENTIRELY: '1' }), [{ name: 'HERALD_SOMETHING_ELSE_ENTIRELY', closest: null }]);
});

test('variables of the CLI and the test scripts are not reported', () => {
  assert.deepEqual(unknownVariables({ HERALD_URL: 'http://x', HERALD_TOKEN: 't', HERALD_TEST_KNOBS: 'true', HERALD_TEST_PG_URL: 'postgres://x' }), []);
});

test('every setting the server reads is known (none reported when all are set)', () => {
  assert.deepEqual(unknownVariables({ HERALD_JWT_SECRET: 'x', HERALD_RETENTION_DAYS: '1', HERALD_AMQP_PREFETCH: '1', HERALD_PUBLIC_URL: 'https://h' }), []);
});
