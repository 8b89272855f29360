#!/usr/bin/env node
// Starts a local scale-out cluster on loopback: PostgreSQL and RabbitMQ (scripts/services/up.sh),
// N Herald nodes sharing one database and one RabbitMQ virtual host, and nginx in front
// (deploy/nginx/herald.conf). Ctrl-C stops the nodes and nginx; `--down` also stops the services.
//
//   npm run build && node scripts/cluster.mjs [--nodes 3] [--port 8080]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '3' }, port: { type: 'string', default: '8080' }, down: { type: 'boolean', default: false } },
});
if (values.down) {
  execFileSync('scripts/services/down.sh', { stdio: 'inherit' });
  process.exit(0);
}
const nodeCount = Number(values.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 32) throw new Error('--nodes must be 1..32');

execFileSync('scripts/services/up.sh', { stdio: 'inherit' });
for (const line of readFileSync('.tmp/services.env', 'utf8').split('\n')) {
  const match = /^export (\w+)='(.*)'$/.exec(line);
  if (match) process.env[match[1]] = match[2];
}

// Reuses the test helpers (compiled by `npm run build`), so the cluster you try is the one the tests run.
const { startCluster } = await import('../dist/test/helpers/cluster.js');
const { createAmqpVhost, createPgDatabase } = await import('../dist/test/helpers/services.js');
const { mintToken } = await import('../dist/src/auth/jwt.js');

const db = await createPgDatabase();
const vhost = await createAmqpVhost();
const cluster = await startCluster({
  nodes: nodeCount, databaseUrl: db.url, amqpUrl: vhost.url, nginxPort: Number(values.port),
  env: { HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'info' },
});
const token = await mintToken(cluster.secret, { sub: 'demo', scope: 'subscribe publish', ttlS: 24 * 3600 });
console.log(`
Herald cluster is up
  nginx:      ${cluster.nginx.url}   (config ${cluster.nginx.dir}/herald.conf, access log ${cluster.nginx.dir}/access.log)
  nodes:      ${cluster.nodes.map((n) => n.url).join('  ')}
  database:   ${db.url}
  RabbitMQ:   ${vhost.url}  (exchange herald.ingest, routing key "notification"; DLQ herald.ingest.dlq)
  JWT secret: ${cluster.secret}
  inbox page: ${cluster.nginx.url}/#token=${token}
  try:        curl -N -H "Authorization: Bearer ${token}" ${cluster.nginx.url}/v1/stream
Ctrl-C stops the nodes and nginx (the services keep running; node scripts/cluster.mjs --down stops them).
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
  await vhost.drop();
  await db.drop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
