import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { vapidPairProblem } from '../../src/push/vapid-keys.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { freePort } from '../helpers/cluster.js';
import { CLI, startHerald, type HeraldProcess } from '../helpers/herald.js';
import { startProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';
import { loadOrCreateDevSecret } from '../../src/dev-secret.js';
import { mintToken } from '../../src/auth/jwt.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function herald(args: string[], env: Record<string, string> = {}, input?: string) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', input });
}

/** stderr is exactly one line starting with "herald: " and matching `pattern`. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.split('\n').filter(Boolean).length, 1, `one line, got: ${stderr}`);
  assert.match(stderr.trim(), /^herald: /);
  assert.match(stderr.trim(), pattern);
}

test('herald --version prints the version of package.json', () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const result = herald(['--version'], {});
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, `herald ${version}\n`);
});

describe('herald token --verify', () => {
  const secret = randomBytes(32).toString('base64url');
  test('a valid token: exit 0 with its user, scopes and expiry', async () => {
    const token = await mintToken(secret, { sub: 'alice', scope: 'subscribe publish', ttlS: 600 });
    const result = herald(['token', '--verify', '--token', '-'], { HERALD_JWT_SECRET: secret }, token);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^valid: user alice, scopes subscribe publish, expires \d{4}-\d\d-\d\dT/);
  });

  test('an expired token: exit 1, "refused: expired"', async () => {
    const token = await mintToken(secret, { sub: 'alice', ttlS: -120 });
    const result = herald(['token', '--verify'], { HERALD_JWT_SECRET: secret, HERALD_TOKEN: token });
    assert.equal(result.status, 1);
    assertOneLine(result.stderr, /^herald: refused: expired$/);
  });

  test('a token signed with another secret: exit 1, "refused: bad signature"', async () => {
    const token = await mintToken(randomBytes(32).toString('base64url'), { sub: 'alice' });
    const result = herald(['token', '--verify'], { HERALD_JWT_SECRET: secret, HERALD_TOKEN: token });
    assert.equal(result.status, 1);
    assertOneLine(result.stderr, /^herald: refused: bad signature \(signed with another key\)$/);
  });

  test('a token for another audience: exit 1, "refused: wrong audience"', async () => {
    const token = await mintToken(secret, { sub: 'alice', audience: 'another-app' });
    const result = herald(['token', '--verify'], { HERALD_JWT_SECRET: secret, HERALD_JWT_AUDIENCE: 'herald', HERALD_TOKEN: token });
    assert.equal(result.status, 1);
    assertOneLine(result.stderr, /^herald: refused: wrong audience \(aud is not HERALD_JWT_AUDIENCE\)$/);
  });
});

test('a refused token is logged with its reason, never the token, and answered the generic 401', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const token = await mintToken(server.secret, { sub: 'alice', ttlS: -120 });
  const res = await fetch(`${server.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 401);
  const withoutToken = await fetch(`${server.url}/v1/notifications`);
  assert.deepEqual(await res.json(), await withoutToken.json(), 'the same answer as no token at all');
  await waitFor(() => server.logs.some((l) => l.includes('token refused: expired')), 'the refusal line');
  assert.deepEqual(server.logs.filter((l) => l.includes(token)), []);
});

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
  assert.equal(unknown.status, 2);
  assertOneLine(unknown.stderr, /unknown command "frobnicate"/);
});

test('the build leaves the CLI executable, so npx can run it directly (its shebang names node)', () => {
  assert.equal(statSync(CLI).mode & 0o111, 0o111, `${CLI} is executable by all`);
  assert.equal(readFileSync(CLI, 'utf8').split('\n')[0], '#!/usr/bin/env node');
});

test('npm start hands SIGTERM to Herald itself: it drains, stops and frees its port (no orphan keeps serving)', async (t) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'herald-npm-start-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // --ignore-scripts skips the prestart build: this suite runs on the built tree.
  const npm = startProc(t, 'npm', ['start', '--ignore-scripts', '--silent'], {
    cwd: REPO,
    env: { ...process.env, HERALD_HOST: '127.0.0.1', HERALD_PORT: String(port), HERALD_DATABASE_URL: join(dir, 'herald.db'), HERALD_JWT_SECRET: randomBytes(32).toString('base64url') },
  });
  const answers = () => fetch(`http://127.0.0.1:${port}/healthz`).then((res) => res.ok, () => false);
  await waitFor(answers, () => `Herald to answer (output: ${npm.stderr()})`, 30_000);
  // What a supervisor (systemd, a container runtime, a benchmark harness) sends to npm.
  npm.signal('SIGTERM');
  await waitFor(() => npm.stdout().includes('"message":"stopped"'), 'Herald to drain and stop', 20_000);
  await npm.exited;
  await waitFor(async () => !(await answers()), 'nothing to answer on the port any more');
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
  assertOneLine(bad.stderr, /^herald: 400 invalid_request: /);
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

test('token --ttl abc: exit 2, one line naming --ttl', () => {
  const result = herald(['token', '--sub', 'alice', '--ttl', 'abc'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assertOneLine(result.stderr, /--ttl must be a whole number of seconds .*\(got "abc"\)/);
});

test('token says which key it signs with: the development secret file when HERALD_JWT_SECRET is unset', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The secret a development server created there (only `serve` creates one).
  loadOrCreateDevSecret(join(dir, 'herald.db'));
  const result = herald(['token', '--sub', 'alice'], { HERALD_DATABASE_URL: join(dir, 'herald.db') });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
  // The CLI names the file relative to the working directory when that is shorter.
  assertOneLine(result.stderr, new RegExp(`signed with the development secret \\S*${basename(dir)}/herald-dev-secret .*HERALD_JWT_SECRET is unset`));
  const withSecret = herald(['token', '--sub', 'alice'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assertOneLine(withSecret.stderr, /signed with HERALD_JWT_SECRET$/);
});

test("publish --data '{bad': exit 2, one line naming --data", () => {
  const result = herald(['publish', '--to', 'alice', '--content', 'x', '--data', '{bad'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assertOneLine(result.stderr, /--data is not valid JSON/);
});

test('publish --help explains --deliver-at, --expires-at and --critical', () => {
  const help = herald(['publish', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^ {2}--deliver-at <time> +deliver later, at this RFC 3339 time/m);
  assert.match(help.stdout, /^ {2}--expires-at <time> +from this RFC 3339 time on it is no longer listed/m);
  assert.match(help.stdout, /^ {2}--critical +deliver even to recipients who muted its type/m);
});

describe('publish with delivery options, against a running server', () => {
  let server: HeraldProcess;
  let env: Record<string, string>;
  before(async () => {
    server = await startHerald();
    env = { HERALD_JWT_SECRET: server.secret, HERALD_URL: server.url };
  });
  after(() => server.stop());

  async function inbox(user: string): Promise<Array<{ content: string; expires_at: string | null }>> {
    const res = await fetch(`${server.url}/v1/notifications`, { headers: { authorization: `Bearer ${await server.token(user)}` } });
    return ((await res.json()) as { items: Array<{ content: string; expires_at: string | null }> }).items;
  }

  test('publish --deliver-at schedules it: answered with its deliver_at, not in the inbox before then', async () => {
    const deliverAt = new Date(Date.now() + 3_600_000).toISOString();
    const result = herald(['publish', '--to', 'sched-cli', '--content', 'later', '--deliver-at', deliverAt], env);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).notifications[0].deliver_at, deliverAt);
    assert.deepEqual(await inbox('sched-cli'), []);
  });

  test('publish --expires-at stores the expiry with the notification', async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const result = herald(['publish', '--to', 'exp-cli', '--content', 'offer', '--expires-at', expiresAt], env);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).notifications[0].expires_at, expiresAt);
    assert.deepEqual((await inbox('exp-cli')).map((n) => [n.content, n.expires_at]), [['offer', expiresAt]]);
  });

  test('publish --critical reaches a recipient who muted the type; without it the recipient is suppressed', async () => {
    const muted = await fetch(`${server.url}/v1/preferences`, {
      method: 'PUT', headers: { authorization: `Bearer ${await server.token('crit-cli')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ muted_types: ['promo'] }),
    });
    assert.equal(muted.status, 200);
    const plain = herald(['publish', '--to', 'crit-cli', '--type', 'promo', '--content', 'sale'], env);
    assert.deepEqual(JSON.parse(plain.stdout).suppressed, ['crit-cli']);
    const critical = herald(['publish', '--to', 'crit-cli', '--type', 'promo', '--content', 'recall', '--critical'], env);
    assert.equal(critical.status, 0, critical.stderr);
    assert.deepEqual(JSON.parse(critical.stdout).suppressed, []);
    assert.deepEqual((await inbox('crit-cli')).map((n) => n.content), ['recall']);
  });

  test('publish --batch file.jsonl stores every valid line in requests of --batch-size, prints each line\'s result in order, exits 1 for the bad one', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-batch-cli-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'digest.jsonl');
    writeFileSync(file, [
      '{"recipients":["batch-cli"],"type":"digest","content":"one"}',
      '',
      '{"recipients":["batch-cli"],"type":"Not A Type","content":"two"}',
      '{"recipients":["batch-cli"],"type":"digest","content":"three"}',
    ].join('\n'));
    const result = herald(['publish', '--batch', file, '--batch-size', '2'], env);
    assert.equal(result.status, 1);
    assertOneLine(result.stderr, /^herald: 1 of 3 notifications were not stored/);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { line: number; status: number; error?: { code: string } });
    assert.deepEqual(lines.map((l) => [l.line, l.status, l.error?.code]), [[1, 202, undefined], [3, 400, 'invalid_request'], [4, 202, undefined]]);
    assert.deepEqual((await inbox('batch-cli')).map((n) => n.content), ['three', 'one']);
  });
});

test('publish --batch with --to: exit 2, one line saying the lines carry the recipients', () => {
  const result = herald(['publish', '--batch', 'x.jsonl', '--to', 'alice'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assertOneLine(result.stderr, /--batch takes each notification from its file: drop --to/);
});

test('publish --deliver-at tomorrow: exit 2, one line naming --deliver-at', () => {
  const result = herald(['publish', '--to', 'alice', '--content', 'x', '--deliver-at', 'tomorrow'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assertOneLine(result.stderr, /--deliver-at must be an RFC 3339 date-time with an offset, .*\(got "tomorrow"\)/);
});

test('publish --expires-at on a day that does not exist: exit 2, one line naming --expires-at', () => {
  const result = herald(['publish', '--to', 'alice', '--content', 'x', '--expires-at', '2026-02-30T00:00:00Z'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assertOneLine(result.stderr, /--expires-at must be an RFC 3339 date-time with an offset, .*\(got "2026-02-30T00:00:00Z"\)/);
});

test('publish --critical=yes: exit 2, one line naming --critical (it takes no value)', () => {
  const result = herald(['publish', '--to', 'alice', '--content', 'x', '--critical=yes'], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 2);
  assert.equal(result.stdout, '');
  assertOneLine(result.stderr, /'--critical' does not take an argument/);
});

test('publish --url at a dead port: exit 1, one line naming the URL', async () => {
  const port = await freePort();
  const result = herald(['publish', '--to', 'alice', '--content', 'x', '--url', `http://127.0.0.1:${port}`], { HERALD_JWT_SECRET: randomBytes(32).toString('base64url') });
  assert.equal(result.status, 1);
  assertOneLine(result.stderr, new RegExp(`^herald: cannot reach Herald at http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); is it running\\?`));
});

test('serve with a database folder that cannot be created: exit 1 at once, one line naming HERALD_DATABASE_URL', () => {
  const result = spawnSync(process.execPath, [CLI, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HERALD_PORT: '0', HERALD_LOG_LEVEL: 'silent', HERALD_DATABASE_URL: '/proc/herald-nope/h.db' }, encoding: 'utf8', timeout: 30_000,
  });
  assert.equal(result.status, 1, 'exited by itself');
  assertOneLine(result.stderr, /^herald: cannot create the data folder \/proc\/herald-nope \(\w+\): set HERALD_DATABASE_URL to a file in a folder Herald can write$/);
});

test('serve on a port another process holds: exit 1 within seconds, one line naming the address and HERALD_PORT', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const port = (holder.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'herald-port-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, [CLI, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HERALD_PORT: String(port), HERALD_LOG_LEVEL: 'silent', HERALD_DATABASE_URL: join(dir, 'h.db') }, encoding: 'utf8', timeout: 30_000,
  });
  assert.equal(result.status, 1);
  assertOneLine(result.stderr, new RegExp(`^herald: cannot listen on 127\\.0\\.0\\.1:${port}: another process holds it \\(another Herald\\?\\); stop it or set HERALD_PORT$`));
});

test('serve with PostgreSQL unreachable: exit 1, one line naming the server (password masked) and HERALD_DATABASE_URL', async () => {
  const port = await freePort();
  const result = spawnSync(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '', HERALD_PORT: '0', HERALD_LOG_LEVEL: 'silent', HERALD_JWT_SECRET: randomBytes(32).toString('base64url'),
      HERALD_DATABASE_URL: `postgres://herald:secret-pw@127.0.0.1:${port}/herald`,
    },
    encoding: 'utf8', timeout: 30_000,
  });
  assert.equal(result.status, 1);
  assertOneLine(result.stderr, new RegExp(`^herald: cannot open PostgreSQL at postgres://\\*\\*\\*@127\\.0\\.0\\.1:${port}/herald \\(HERALD_DATABASE_URL\\): connect ECONNREFUSED`));
  assert.doesNotMatch(result.stderr, /secret-pw/);
});

test('publish without --url or HERALD_URL talks to the local server on HERALD_PORT', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const result = herald(['publish', '--to', 'alice', '--content', 'by port'], { HERALD_JWT_SECRET: server.secret, HERALD_PORT: String(server.port) });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).notifications[0].content, 'by port');
});

test('publish --data - reads the data object from stdin', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const result = herald(['publish', '--to', 'alice', '--content', 'piped', '--data', '-'], { HERALD_JWT_SECRET: server.secret, HERALD_URL: server.url }, '{"order": 42, "lines": ["a", "b"]}\n');
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout).notifications[0].data, { order: 42, lines: ['a', 'b'] });
});

/**
 * A TCP proxy between `herald tail` and Herald that the test can cut: `cut()` ends every
 * connection as a server ending the stream would and refuses new ones until `resume()`.
 */
async function cuttableProxy(t: TestContext, targetPort: number) {
  const pairs = new Set<[Socket, Socket]>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) return void client.destroy();
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
    const drop = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } server.close(() => resolve()); }));
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    open: () => pairs.size,
    cut() {
      refusing = true;
      for (const [client, upstream] of pairs) {
        // Upstream goes away quietly; the client sees the stream end cleanly (FIN).
        upstream.removeAllListeners('close').on('error', () => {});
        upstream.unpipe(client);
        upstream.destroy();
        client.end();
      }
    },
    resume() { refusing = false; },
  };
}

test('tail reconnects when the stream ends and resumes from its cursor (nothing missed)', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const proxy = await cuttableProxy(t, server.port);
  const tail = startProc(t, process.execPath, [CLI, 'tail', '--user', 'alice', '--url', proxy.url], { env: { PATH: process.env.PATH, HERALD_JWT_SECRET: server.secret } });
  await waitFor(() => tail.stdout().includes('"event":"ready"'), 'tail to print ready');
  assert.equal((await server.publish({ recipients: ['alice'], type: 'alert', content: 'first' })).status, 202);
  await waitFor(() => tail.stdout().includes('"first"'), 'tail to print the first notification');

  proxy.cut();
  await waitFor(() => /reconnecting from \S+/.test(tail.stderr()), () => `tail to say it reconnects from its cursor (stderr: ${tail.stderr()})`);
  // Published while tail cannot reach the server: only a resume from the cursor delivers it.
  assert.equal((await server.publish({ recipients: ['alice'], type: 'alert', content: 'while cut off' })).status, 202);
  proxy.resume();
  await waitFor(() => tail.stdout().includes('"while cut off"'), () => `tail to print what it missed (stderr: ${tail.stderr()})`, 40_000);
  assert.equal(tail.child.exitCode, null, 'tail keeps running');
  assert.equal(tail.stdout().split('"first"').length - 1, 1, 'nothing printed twice');
});

test('tail stops with exit 1 and one line when the server answers 401', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const tail = startProc(t, process.execPath, [CLI, 'tail', '--url', server.url], { env: { PATH: process.env.PATH, HERALD_TOKEN: 'not-a-jwt' } });
  assert.equal(await tail.exited, 1);
  assertOneLine(tail.stderr(), /401.*stopped$/);
});

test('tail stops with exit 0 on Ctrl-C (SIGINT)', async (t) => {
  const server = await startHerald();
  t.after(() => server.stop());
  const tail = startProc(t, process.execPath, [CLI, 'tail', '--user', 'alice', '--url', server.url], { env: { PATH: process.env.PATH, HERALD_JWT_SECRET: server.secret } });
  await waitFor(() => tail.stdout().includes('"event":"ready"'), 'tail to print ready');
  tail.signal('SIGINT');
  assert.equal(await tail.exited, 0);
});

test('vapid-keys prints a new pair that Herald accepts as its Web Push keys', () => {
  const first = herald(['vapid-keys']);
  const second = herald(['vapid-keys']);
  assert.equal(first.status, 0, first.stderr);
  const match = /^HERALD_VAPID_PUBLIC_KEY=([\w-]{87})\nHERALD_VAPID_PRIVATE_KEY=([\w-]{43})\n$/.exec(first.stdout);
  assert.ok(match, first.stdout);
  assert.notEqual(first.stdout, second.stdout);
  assert.equal(vapidPairProblem(match[1] as string, match[2] as string), null);
});
