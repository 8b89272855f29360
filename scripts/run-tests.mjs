// Runs every compiled test file under dist/ with node's test runner, after starting the
// PostgreSQL and RabbitMQ the scale-out tests need (scripts/services/up.sh).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function find(dir) {
  let out = [];
  let entries = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** Starts the services and returns the variables up.sh wrote (export NAME='value' lines). */
function startServices() {
  const up = spawnSync('bash', ['scripts/services/up.sh'], { stdio: 'inherit' });
  if (up.status !== 0) {
    console.error('could not start PostgreSQL/RabbitMQ for the tests (scripts/services/up.sh); install them with scripts/install-system-deps.sh');
    process.exit(1);
  }
  const env = {};
  for (const line of readFileSync('.tmp/services.env', 'utf8').split('\n')) {
    const match = /^export (\w+)='(.*)'$/.exec(line);
    if (match) env[match[1]] = match[2];
  }
  return env;
}

const only = process.argv.slice(2);
const files = [...find('dist/test'), ...find('dist/client/test')]
  .filter((f) => !f.includes('/helpers/'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}
// A fresh machine gets PostgreSQL, RabbitMQ, nginx and Chromium from apt first (a no-op
// when they are present), so `npm test` works for a newcomer as it does in CI.
if (spawnSync('bash', ['scripts/install-system-deps.sh'], { stdio: 'inherit' }).status !== 0) {
  console.error('could not install the system packages the tests need (scripts/install-system-deps.sh needs root or sudo)');
  process.exit(1);
}
const env = { ...process.env, ...startServices() };
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files], { stdio: 'inherit', env });
// Leave no service running behind the suite, unless asked to keep them for another run.
if (!process.env.HERALD_KEEP_SERVICES) spawnSync('bash', ['scripts/services/down.sh'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
