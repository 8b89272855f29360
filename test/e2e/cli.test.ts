import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, startHerald } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

function herald(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
}

test('every command answers --help with its usage', () => {
  const top = herald(['--help']);
  assert.equal(top.status, 0);
  for (const command of ['serve', 'token', 'publish', 'tail', 'migrate']) {
    assert.match(top.stdout, new RegExp(`\\b${command}\\b`));
    const help = herald([command, '--help']);
    assert.equal(help.status, 0, command);
    assert.match(help.stdout, new RegExp(`Usage: herald ${command}`));
  }
  const unknown = herald(['frobnicate']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test('a bad configuration value stops serve with one line naming the variable', () => {
  const result = herald(['serve'], { HERALD_PORT: 'eighty' });
  assert.equal(result.status, 1);
  assert.equal(result.stderr, 'herald: HERALD_PORT must be an integer from 0 to 65535 (got "eighty")\n');
});

test('token, publish and tail work together against a running server', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const env = { HERALD_JWT_SECRET: server.secret, HERALD_URL: server.url };
  const tail = spawn(process.execPath, [CLI, 'tail', '--user', 'alice'], { env: { PATH: process.env.PATH ?? '', ...env } });
  t.after(() => tail.kill('SIGKILL'));
  let out = '';
  tail.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  await waitFor(() => out.includes('"event":"ready"'), 'tail to print ready');

  const published = herald(['publish', '--to', 'alice', '--type', 'alert', '--title', 'CLI', '--content', 'from the command line', '--data', '{"k":1}'], env);
  assert.equal(published.status, 0, published.stderr);
  const answer = JSON.parse(published.stdout);
  await waitFor(() => out.includes('from the command line'), 'tail to print the notification');
  const line = out.split('\n').map((l) => l && JSON.parse(l)).find((e) => e && e.event === 'notification');
  assert.equal(line.data.id, answer.notifications[0].id);
  assert.deepEqual(line.data.data, { k: 1 });

  const token = herald(['token', '--sub', 'bob', '--scope', 'subscribe', '--groups', 'ops'], env).stdout.trim();
  const res = await fetch(`${server.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const bad = herald(['publish', '--to', 'alice', '--type', 'Bad Type', '--content', 'x'], env);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /invalid_request/);
});

test('migrate creates the schema; the embedded default keeps its development secret across restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { HERALD_DATABASE_URL: join(dir, 'db', 'herald.db') };
  const migrated = herald(['migrate'], env);
  assert.equal(migrated.status, 0, migrated.stderr);
  assert.match(migrated.stdout, /database migrated \(epoch [a-z0-9]+\)/);

  const server = await startHerald({ env: { ...env, HERALD_JWT_SECRET: undefined } });
  t.after(() => server.stop());
  await waitFor(() => server.logs.some((l) => l.includes('Development token:')), 'the banner');
  const banner = server.logs.find((l) => l.includes('Development token:')) ?? '';
  const devToken = banner.split('Development token: ')[1]?.trim() ?? '';
  const secretPath = join(dir, 'db', 'herald-dev-secret');
  assert.equal(statSync(secretPath).mode & 0o777, 0o600);
  const secret = readFileSync(secretPath, 'utf8');
  assert.ok(server.logs.some((l) => l.includes(`${server.url}/#token=`)), 'the inbox URL is printed');

  await server.restart();
  assert.equal(readFileSync(secretPath, 'utf8'), secret, 'the secret survives a restart');
  const res = await fetch(`${server.url}/v1/notifications`, { headers: { authorization: `Bearer ${devToken}` } });
  assert.equal(res.status, 200, 'a token printed before the restart still works');
  const minted = await fetch(`${server.url}/v1/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"zoe"}' });
  assert.equal(minted.status, 200);
});
