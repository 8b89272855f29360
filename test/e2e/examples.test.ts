// Every client example, run with the command its header states (from the repository root,
// against a development-mode Herald), receives a notification, rides out a Herald restart
// and receives the next one, exactly once each.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { startProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The example's documented command line: the header line that runs it. */
function documentedCommand(example: string): string {
  const text = readFileSync(join(REPO, 'client', 'examples', example), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('//   ') && l.includes(`node client/examples/${example}`));
  assert.ok(line, `client/examples/${example} states the command that runs it`);
  return line.slice(2).trim();
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

async function devServer(t: TestContext): Promise<{ server: HeraldProcess; env: NodeJS.ProcessEnv }> {
  // Development mode, as after `npm start` in a fresh clone: the CLI finds the server's
  // generated secret beside its database.
  const server = await startHerald({ env: { HERALD_JWT_SECRET: undefined } });
  t.after(() => server.stop());
  const env: NodeJS.ProcessEnv = { ...process.env, HERALD_URL: server.url, HERALD_DATABASE_URL: server.env.HERALD_DATABASE_URL };
  delete env.HERALD_JWT_SECRET;
  return { server, env };
}

function publish(env: NodeJS.ProcessEnv, content: string): void {
  const result = spawnSync('npx', ['herald', 'publish', '--to', 'alice', '--type', 'alert', '--content', content], { cwd: REPO, env, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

async function followAcrossRestart(t: TestContext, example: string, connected: string): Promise<void> {
  const { server, env } = await devServer(t);
  const run = startProc(t, 'bash', ['-c', documentedCommand(example)], { cwd: REPO, env });
  const out = () => `${run.stdout()}${run.stderr()}`;
  await waitFor(() => occurrences(run.stdout(), connected) === 1, () => `the example to connect (output: ${out()})`, 20_000);
  publish(env, 'before the restart');
  await waitFor(() => run.stdout().includes('before the restart'), () => `the first notification (output: ${out()})`);

  await server.restart();
  await waitFor(() => occurrences(run.stdout(), connected) === 2, () => `the example to reconnect after the restart (output: ${out()})`, 40_000);
  publish(env, 'after the restart');
  await waitFor(() => run.stdout().includes('after the restart'), () => `the notification after the restart (output: ${out()})`);
  assert.equal(occurrences(run.stdout(), 'before the restart'), 1, 'nothing is printed twice');
  assert.equal(run.child.exitCode, null, 'the example is still running');
}

test('examples/follow.mjs (the SDK in Node) follows alice across a Herald restart', async (t) => {
  await followAcrossRestart(t, 'follow.mjs', 'state: open');
});

test('examples/native-eventsource.mjs (plain EventSource with tickets) follows alice across a Herald restart', async (t) => {
  await followAcrossRestart(t, 'native-eventsource.mjs', 'ready {');
});
