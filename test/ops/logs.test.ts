// Log lines in Elastic Common Schema, read from a real Herald process: the base fields
// Kibana needs, the request's http/url fields with credentials redacted, and one id that
// ties a request's lines together.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';

// Parsed JSON log lines: tests assert on the fields they expect.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Line = Record<string, any>;

describe('ECS logs', () => {
  let herald: HeraldProcess;
  let token: string;
  let lines: Line[];
  let requestLine: Line;

  before(async () => {
    herald = await startHerald();
    token = await herald.token('ecs', { scope: 'subscribe' });
    // access_token is taken only by the stream: here it is an unknown parameter (400), which
    // must still be redacted from the line, as must the cookie.
    const res = await fetch(`${herald.url}/v1/notifications?access_token=${token}&limit=5`, { headers: { 'user-agent': 'ecs-test/1', cookie: `herald_token=${token}` } });
    await res.text();
    await waitFor(() => herald.logs.some((l) => l.includes('"request completed"') && l.includes('"status_code":400')), 'the response log line');
    lines = herald.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
    requestLine = lines.find((l) => l.message === 'request completed' && l.url?.path === '/v1/notifications') as Line;
  });
  after(() => herald?.stop());

  test('every line has @timestamp, log.level, message, ecs.version and service.name', () => {
    assert.ok(lines.length > 3);
    for (const line of lines) {
      assert.match(line['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(line['log.level']), JSON.stringify(line));
      assert.equal(typeof line.message, 'string');
      assert.match(line['ecs.version'], /^\d+\.\d+\.\d+$/);
      assert.equal(line['service.name'], 'herald');
    }
  });

  test('no line uses pino\'s own field names or a plain string where ECS expects an object', () => {
    for (const line of lines) {
      for (const key of ['msg', 'time', 'level', 'reqId', 'req', 'res']) assert.equal(line[key], undefined, `${key} in ${JSON.stringify(line)}`);
      for (const key of ['url', 'user', 'http', 'client', 'error']) assert.ok(line[key] === undefined || typeof line[key] === 'object', `${key} in ${JSON.stringify(line)}`);
    }
  });

  test('a request line has http.request.*, url.* with the token redacted, client.ip and user_agent.original', () => {
    assert.ok(requestLine, 'the request line');
    assert.equal(requestLine.http.request.method, 'GET');
    assert.equal(requestLine.url.path, '/v1/notifications');
    assert.equal(requestLine.url.query, 'access_token=[REDACTED]&limit=5');
    assert.equal(requestLine.url.original, '/v1/notifications?access_token=[REDACTED]&limit=5');
    assert.equal(requestLine.client.ip, '127.0.0.1');
    assert.equal(requestLine.user_agent.original, 'ecs-test/1');
  });

  test('the request id is transaction.id on every line of the request, and http.request.id', () => {
    const id = requestLine['transaction.id'];
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(requestLine.http.request.id, id);
  });

  test('one access line per request, once answered, with its status and duration', () => {
    const id = requestLine['transaction.id'];
    assert.deepEqual(lines.filter((l) => l['transaction.id'] === id).map((l) => l.message), ['request completed']);
    assert.equal(requestLine.http.response.status_code, 400);
    assert.ok(requestLine.event.duration > 0, 'event.duration in nanoseconds');
  });

  test('the token sent in the query string and the cookie appears in no line', () => {
    assert.equal(herald.logs.filter((l) => l.includes(token)).length, 0);
  });

  test('the listening line keeps its port and gives its address as url.full', () => {
    const listening = lines.find((l) => l.message === 'listening') as Line;
    assert.equal(listening.port, herald.port);
    assert.equal(listening.url.full, herald.url);
  });
});

describe('log lines written in batches', () => {
  const logModule = new URL('../../src/log.js', import.meta.url).href;

  /** A node process that logs with Herald's logger and then runs `then`; its stdout lines as they come. */
  function loggingProcess(then: string): { lines: string[]; exited: Promise<number | null>; kill(): void } {
    const code = `import { createLogger } from ${JSON.stringify(logModule)};
      const log = createLogger('info');
      for (let i = 0; i < 3; i++) log.info({ i }, 'gathered line');
      ${then}`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
    child.stderr.resume();
    const exited = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
    return { lines, exited, kill: () => child.kill() };
  }

  test('a quiet process still writes its lines soon, without exiting', async (t) => {
    const proc = loggingProcess('setInterval(() => {}, 1000);');
    t.after(async () => {
      proc.kill();
      await proc.exited;
    });
    await waitFor(() => proc.lines.filter((l) => l.includes('gathered line')).length === 3 || null, 'the three lines');
  });

  test('a process that exits at once writes every line it logged', async () => {
    const proc = loggingProcess('process.exit(0);');
    assert.equal(await proc.exited, 0);
    assert.equal(proc.lines.filter((l) => l.includes('gathered line')).length, 3);
  });

  test('a process that crashes (an uncaught exception) writes every line it logged', async () => {
    const proc = loggingProcess("setImmediate(() => { throw new Error('boom'); });");
    assert.equal(await proc.exited, 1);
    assert.equal(proc.lines.filter((l) => l.includes('gathered line')).length, 3);
  });
});
