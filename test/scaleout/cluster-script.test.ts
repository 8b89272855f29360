// scripts/cluster.mjs as the README runs it: it refuses a port another server holds, prints
// where each node logs, writes an env file that makes the CLI's token work on the cluster,
// and `--down` stops everything it started (nodes, nginx, PostgreSQL, RabbitMQ). A node that
// dies while the cluster runs is reported in one line. The file starts its own PostgreSQL and
// RabbitMQ through the script (see servicesEnv).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/cluster.js';
import { startHerald } from '../helpers/herald.js';
import { startProc, type Proc } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts', 'cluster.mjs');

/**
 * Waits for the cluster's banner. A cluster that exits first fails the test at once with
 * everything it printed, rather than after the whole wait with nothing.
 */
async function clusterUp(cluster: Proc): Promise<void> {
  const up = waitFor(() => cluster.stdout().includes('Herald cluster is up'), 'the cluster to start', 180_000, 200);
  const died = cluster.exited.then((code) => {
    throw new Error(`the cluster exited with code ${code} before it was up\nstdout: ${cluster.stdout()}\nstderr: ${cluster.stderr()}`);
  });
  died.catch(() => {});
  await Promise.race([up, died]);
}

/**
 * PostgreSQL and RabbitMQ of this file's own, never the suite's: other test files running at
 * the same time stop, pause and restart the suite's services, and the cluster script would
 * then try to start them again under those files' feet (a paused PostgreSQL looks down to
 * pg_isready). The script's `--down` stops them; the file's last hook makes sure.
 */
const servicesDir = mkdtempSync(join(tmpdir(), 'herald-cluster-services-'));
const servicesEnv = {
  HERALD_SERVICES_DIR: join(servicesDir, 'services'),
  HERALD_SERVICES_ENV: join(servicesDir, 'services.env'),
};
after(() => {
  spawnSync('bash', [join(REPO, 'scripts', 'services', 'down.sh')], { env: { ...process.env, ...servicesEnv }, stdio: 'ignore' });
  rmSync(servicesDir, { recursive: true, force: true });
});

/** `node scripts/cluster.mjs --nodes 2` on a free port, with its state in a folder of its own, once up. */
async function startClusterScript(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, ...servicesEnv, HERALD_CLUSTER_DIR: join(dir, 'cluster') };
  const port = await freePort();
  const cluster = startProc(t, process.execPath, [SCRIPT, '--nodes', '2', '--port', String(port)], { cwd: REPO, env });
  await clusterUp(cluster);
  return { dir, env, port, cluster };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

test('a port held by another server (here another Herald) fails with one line naming the port', async (t) => {
  const other = await startHerald();
  t.after(() => other.stop());
  const dir = mkdtempSync(join(tmpdir(), 'herald-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = spawnSync(process.execPath, [SCRIPT, '--nodes', '1', '--port', String(other.port)], {
    cwd: REPO, encoding: 'utf8', env: { ...process.env, HERALD_CLUSTER_DIR: join(dir, 'cluster') }, timeout: 60_000,
  });
  assert.equal(result.status, 1);
  assert.doesNotMatch(result.stdout, /cluster is up/);
  assert.equal(result.stderr, `cluster: port ${other.port} is already in use by another process (not this cluster's nginx); stop it or choose another port with --port\n`);
});

test('a node that dies says so in one line: which node, its port, how it ended and where its log is', async (t) => {
  // Ctrl-C stops the nodes and nginx only; the file's services stay up for the next test.
  const { dir, port, cluster } = await startClusterScript(t);
  const state = JSON.parse(readFileSync(join(dir, 'cluster', 'cluster.json'), 'utf8')) as { nodes: number[] };
  const log = join(dir, 'cluster', 'node-2.log');
  const pid = Number(/"process\.pid":(\d+)/.exec(readFileSync(log, 'utf8'))?.[1]);
  assert.ok(pid > 0, `node 2's pid is in ${log}`);
  // What the services' start script said before, if anything.
  const before = cluster.stderr().length;
  const reported = () => cluster.stderr().slice(before);
  assert.doesNotMatch(cluster.stderr(), /exited unexpectedly/, 'nothing is reported while the nodes run');

  process.kill(pid, 'SIGKILL');
  await waitFor(() => reported().includes('\n'), 'the cluster to report the dead node', 30_000);
  assert.equal(reported(), `cluster: node 2 (port ${state.nodes[1]}, pid ${pid}) exited unexpectedly: killed by SIGKILL; its log: ${log}\n`);
  assert.equal(await listening(port), true, 'nginx and node 1 keep running');

  // Stopping the cluster stops its nodes on purpose: no more lines.
  cluster.signal('SIGINT');
  assert.equal(await cluster.exited, 0, cluster.stderr());
  assert.equal(reported().split('\n').length, 2, `one line only: ${reported()}`);
});

test('the cluster prints its node logs, the CLI token from its env file works, and --down stops nodes, nginx and services', async (t) => {
  const { dir, env, port, cluster } = await startClusterScript(t);
  const state = JSON.parse(readFileSync(join(dir, 'cluster', 'cluster.json'), 'utf8')) as { pid: number; port: number; nodes: number[] };
  assert.equal(state.port, port);
  assert.equal(state.nodes.length, 2);
  for (const i of [1, 2]) {
    const log = join(dir, 'cluster', `node-${i}.log`);
    assert.ok(cluster.stdout().includes(`node-${i}.log`), `node ${i}'s log is printed`);
    assert.match(readFileSync(log, 'utf8'), /"message":"listening"/, `node ${i} writes to ${log}`);
  }

  // The README's command: the token is signed with the cluster's key, not a development secret.
  const minted = spawnSync('bash', ['-c', `. ${join(dir, 'cluster', 'cluster.env')} && npx herald token --sub alice --scope "subscribe publish"`], { cwd: REPO, env, encoding: 'utf8' });
  assert.equal(minted.status, 0, minted.stderr);
  assert.match(minted.stderr, /signed with HERALD_JWT_SECRET/);
  const token = minted.stdout.trim();
  const unread = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { unread_count: number }).unread_count;
  };
  assert.equal(await unread(), 0);
  // The README's two publishes: through nginx, and through the cluster's RabbitMQ.
  const cli = (args: string) => spawnSync('bash', ['-c', `. ${join(dir, 'cluster', 'cluster.env')} && npx herald ${args}`], { cwd: REPO, env, encoding: 'utf8' });
  const viaNginx = cli('publish --to alice --content "through nginx"');
  assert.equal(viaNginx.status, 0, viaNginx.stderr);
  const viaRabbit = cli('publish --amqp "$HERALD_CLUSTER_AMQP_URL" --to alice --content "through RabbitMQ"');
  assert.equal(viaRabbit.status, 0, viaRabbit.stderr);
  await waitFor(async () => (await unread()) === 2, 'both notifications to reach alice');

  const down = startProc(t, process.execPath, [SCRIPT, '--down'], { cwd: REPO, env });
  assert.equal(await down.exited, 0, `${down.stderr()}\ncluster output: ${cluster.stdout().split('Ctrl-C')[1]} ${cluster.stderr()}`);
  assert.match(down.stdout(), new RegExp(`cluster stopped: nodes and nginx on port ${port}`));
  assert.equal(await cluster.exited, 0);
  for (const p of [port, ...state.nodes]) assert.equal(await listening(p), false, `nothing listens on ${p} after --down`);
  assert.equal(existsSync(servicesEnv.HERALD_SERVICES_ENV), false, 'the services are down');
});
