#!/usr/bin/env node
// Starts a local scale-out cluster on loopback: PostgreSQL and RabbitMQ (scripts/services/up.sh),
// N Herald nodes sharing one database and one RabbitMQ virtual host, and nginx in front
// (deploy/nginx/herald.conf). Ctrl-C stops the nodes and nginx; `--down` stops a running
// cluster (nodes and nginx) and the services.
//
//   npm run build && node scripts/cluster.mjs [--nodes 3] [--port 8080]
//   . .tmp/cluster/cluster.env && npx herald token --sub alice    # a token the cluster accepts
//   node scripts/cluster.mjs --down
//
// State lives in .tmp/cluster/ (HERALD_CLUSTER_DIR): cluster.json (pid and port of the
// running cluster), cluster.env (HERALD_URL, HERALD_JWT_SECRET and HERALD_CLUSTER_AMQP_URL
// for the CLI), node-<i>.log.
/* global fetch */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const stateDir = resolve(process.env.HERALD_CLUSTER_DIR ?? join(root, '.tmp', 'cluster'));
const stateFile = join(stateDir, 'cluster.json');
const envFile = join(stateDir, 'cluster.env');
const servicesEnv = process.env.HERALD_SERVICES_ENV ?? join(root, '.tmp', 'services.env');
const show = (path) => relative(process.cwd(), path) || path;

/** One line on stderr, exit 1: the whole failure a newcomer needs to read. */
function fail(message) {
  console.error(`cluster: ${message}`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: { nodes: { type: 'string', default: '3' }, port: { type: 'string', default: '8080' }, down: { type: 'boolean', default: false } },
  }));
} catch (err) {
  console.error(`cluster: ${err.message} (usage: node scripts/cluster.mjs [--nodes 3] [--port 8080] | --down)`);
  process.exit(2);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** The cluster started from this checkout that is still running, if any. */
function running() {
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8'));
    return alive(state.pid) ? state : null;
  } catch {
    return null;
  }
}

// The test helpers (compiled by `npm run build`) are this script's toolkit too, so the
// cluster you try is the one the tests run.
const helpers = join(root, 'dist', 'test', 'helpers');
const { waitFor } = await import(join(helpers, 'wait.js')).catch(() => fail('dist/ is missing: run npm run build first'));

if (values.down) {
  const cluster = running();
  if (cluster) {
    // The running cluster.mjs stops its nodes and nginx and drops its database on SIGTERM.
    process.kill(cluster.pid, 'SIGTERM');
    if (!(await waitFor(() => !alive(cluster.pid), 'the cluster to stop', 60_000).catch(() => false))) {
      fail(`the cluster (pid ${cluster.pid}) did not stop within 60 s; stop it with kill ${cluster.pid}, then run --down again`);
    }
    console.log(`cluster stopped: nodes and nginx on port ${cluster.port} (pid ${cluster.pid})`);
  }
  rmSync(stateDir, { recursive: true, force: true });
  execFileSync('scripts/services/down.sh', { stdio: 'inherit' });
  process.exit(0);
}

const nodeCount = Number(values.nodes);
if (!/^\d+$/.test(values.nodes) || nodeCount < 1 || nodeCount > 32) {
  console.error(`cluster: --nodes must be a whole number from 1 to 32 (got "${values.nodes}")`);
  process.exit(2);
}
const port = Number(values.port);
if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
  console.error(`cluster: --port must be a port number from 1 to 65535 (got "${values.port}")`);
  process.exit(2);
}

const already = running();
if (already) {
  fail(`a cluster from this checkout is already running (pid ${already.pid}, nginx on port ${already.port}); stop it with: node scripts/cluster.mjs --down`);
}
// nginx must own the port: when something else listens there, nginx fails to bind while
// that other server answers the health check, and the cluster would look up but isn't.
const portError = await new Promise((done) => {
  const probe = createServer();
  probe.once('error', (err) => done(err));
  probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => done(null)));
});
if (portError) {
  fail(portError.code === 'EADDRINUSE'
    ? `port ${port} is already in use by another process (not this cluster's nginx); stop it or choose another port with --port`
    : `cannot listen on 127.0.0.1:${port} (${portError.code ?? portError.message}); choose another port with --port`);
}

try {
  execFileSync('scripts/services/up.sh', { stdio: 'inherit' });
} catch {
  fail('could not start PostgreSQL and RabbitMQ (scripts/services/up.sh, output above)');
}
for (const line of readFileSync(servicesEnv, 'utf8').split('\n')) {
  const match = /^export (\w+)='(.*)'$/.exec(line);
  if (match) process.env[match[1]] = match[2];
}

// A node that exits while the cluster runs is reported in one line (nginx routes around it,
// so nothing else would say so). The helpers keep each node's ChildProcess to themselves: the
// script sees them by wrapping child_process.spawn before loading the helpers (for ES
// modules, syncBuiltinESMExports rebinds their `import { spawn }` to the wrapper).
const nodeCli = join(root, 'dist', 'src', 'cli', 'herald.js');
let watching = false;
const childProcess = createRequire(import.meta.url)('node:child_process');
const spawnChild = childProcess.spawn;
childProcess.spawn = function spawnWatched(command, args, ...rest) {
  const child = spawnChild.call(this, command, args, ...rest);
  if (Array.isArray(args) && args[0] === nodeCli && args[1] === 'serve') {
    child.once('exit', (code, signal) => { if (watching) reportExit(child.pid, code, signal); });
  }
  return child;
};
syncBuiltinESMExports();
/** The log's path as the banner shows it inside the checkout, else in full. */
const where = (path) => (show(path).startsWith('..') ? path : show(path));

function reportExit(pid, code, signal) {
  // Each node writes its pid in its log lines: it names the node whatever order they started in.
  const index = cluster.nodes.findIndex((node) => node.logs.some((line) => line.includes(`"process.pid":${pid},`)));
  const name = index < 0 ? `a node (pid ${pid})` : `node ${index + 1} (port ${cluster.nodes[index].port}, pid ${pid})`;
  const how = signal ? `killed by ${signal}` : `exit code ${code}`;
  const log = index < 0 ? `${where(stateDir)}/node-*.log` : where(join(stateDir, `node-${index + 1}.log`));
  console.error(`cluster: ${name} exited unexpectedly: ${how}; its log: ${log}`);
}

const { startCluster } = await import(join(helpers, 'cluster.js'));
const { createAmqpVhost, createPgDatabase } = await import(join(helpers, 'services.js'));
const { mintToken } = await import(join(root, 'dist', 'src', 'auth', 'jwt.js'));

rmSync(stateDir, { recursive: true, force: true });
mkdirSync(stateDir, { recursive: true });
const db = await createPgDatabase();
const vhost = await createAmqpVhost();
let cluster;
try {
  cluster = await startCluster({
    nodes: nodeCount, databaseUrl: db.url, amqpUrl: vhost.url, nginxPort: port, logDir: stateDir,
    env: { HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'info' },
  });
  // The answer must come from the nginx just started, not from a server that took the
  // port in the meantime.
  const res = await fetch(`${cluster.nginx.url}/healthz`);
  if (!/^nginx/.test(res.headers.get('server') ?? '') || /bind\(\)/.test(cluster.nginx.errorLog())) {
    throw new Error(`port ${port} is answered by another process, not this cluster's nginx; choose another port with --port`);
  }
} catch (err) {
  await cluster?.stop();
  await vhost.drop();
  await db.drop();
  rmSync(stateDir, { recursive: true, force: true });
  fail(String(err.message).split('\n')[0]);
}

writeFileSync(stateFile, `${JSON.stringify({ pid: process.pid, port, nodes: cluster.nodes.map((n) => n.port) })}\n`);
// For the CLI: `. .tmp/cluster/cluster.env` makes `herald token/publish/tail` use this cluster.
// HERALD_CLUSTER_AMQP_URL, not HERALD_AMQP_URL: a server started later from that shell
// must not silently join the cluster's broker.
writeFileSync(envFile, [
  `export HERALD_URL='${cluster.nginx.url}'`,
  `export HERALD_JWT_SECRET='${cluster.secret}'`,
  `export HERALD_CLUSTER_AMQP_URL='${vhost.url}'`,
  '',
].join('\n'), { mode: 0o600 });
const token = await mintToken(cluster.secret, { sub: 'demo', scope: 'subscribe publish', ttlS: 24 * 3600 });
console.log(`
Herald cluster is up
  nginx:      ${cluster.nginx.url}   (config ${cluster.nginx.dir}/herald.conf, access log ${cluster.nginx.dir}/access.log, error log ${cluster.nginx.dir}/error.log)
  nodes:      ${cluster.nodes.map((n) => n.url).join('  ')}
  node logs:  ${cluster.nodes.map((_, i) => show(join(stateDir, `node-${i + 1}.log`))).join('  ')}
  database:   ${db.url}
  RabbitMQ:   ${vhost.url}  (exchange herald.ingest, routing key "notification"; DLQ herald.ingest.dlq)
  JWT secret: ${cluster.secret}
  CLI:        . ${show(envFile)} && npx herald token --sub alice --scope "subscribe publish"
  inbox page: ${cluster.nginx.url}/#token=${token}
  try:        curl -N -H "Authorization: Bearer ${token}" ${cluster.nginx.url}/v1/stream
Ctrl-C stops the nodes and nginx (the services keep running); node scripts/cluster.mjs --down stops everything.
`);

watching = true;

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  watching = false;
  console.log('stopping the nodes and nginx');
  await cluster.stop();
  console.log('dropping the database and the RabbitMQ virtual host');
  await vhost.drop().catch(() => {});
  await db.drop().catch(() => {});
  console.log('cluster stopped');
  rmSync(stateFile, { force: true });
  rmSync(envFile, { force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
