// Runs the compiled test files under dist/ with node's test runner. Only when a chosen file
// needs something besides Node (see NEEDS) does it install the system packages and, for
// PostgreSQL and RabbitMQ, start them once for the whole run (scripts/services/up.sh).
//
//   node scripts/run-tests.mjs                  every test file
//   node scripts/run-tests.mjs e2e unit/cursor  the files whose path contains one of these
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The one place that says which test files need what besides Node, by path prefix under
 * dist/. A file that is not listed needs nothing: it runs with no package installed and no
 * service started. A file that uses a service without being listed here fails and says
 * what is missing (test/helpers/services.ts), so a missing line cannot go unnoticed.
 */
const NEEDS = {
  'dist/test/contract/': ['postgres'],
  'dist/test/e2e/preferences.test': ['postgres'],
  'dist/test/e2e/batch-publish.test': ['postgres'],
  'dist/test/e2e/scheduled.test': ['postgres'],
  'dist/test/e2e/expiry.test': ['postgres'],
  'dist/test/e2e/snooze.test': ['postgres'],
  'dist/test/e2e/web-push.test': ['postgres'],
  'dist/test/e2e/web-push-nodes.test': ['postgres'],
  'dist/test/ops/retention-load.test': ['postgres'],
  'dist/test/ops/overload.test': ['rabbitmq'],
  'dist/test/ops/queue-metrics.test': ['rabbitmq'],
  'dist/test/ops/queue-publishers.test': ['rabbitmq'],
  'dist/test/ops/cli-services.test': ['postgres', 'rabbitmq'],
  'dist/test/ops/alerts.test': ['prometheus'],
  'dist/test/ops/dashboard.test': ['prometheus'],
  // nchan (nginx's module) is one of the three peers of `npm run bench:compare`.
  'dist/test/ops/compare-runner': ['nginx'],
  'dist/test/scaleout/': ['postgres', 'rabbitmq', 'nginx'],
  // Also root and iproute2 (ip netns, veth, tc), which every machine of this kind has.
  'dist/test/scaleout/partitions.test': ['postgres', 'rabbitmq', 'nginx'],
  'dist/test/browser/': ['chromium'],
  // Runs the README's Go snippet with `go run` (Debian's golang-go; no module downloads).
  'dist/test/e2e/five-minute': ['golang'],
  // Its third-pass rows attack through a real nginx built from deploy/nginx/herald.conf.
  'dist/test/security/hostile': ['nginx'],
};
/** Needs met by starting scripts/services/up.sh (the others only by installed packages). */
const SERVICES = new Set(['postgres', 'rabbitmq']);

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

function needsOf(file) {
  return Object.entries(NEEDS).filter(([prefix]) => file.startsWith(prefix)).flatMap(([, needs]) => needs);
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
const needs = new Set(files.flatMap(needsOf));
// A fresh machine gets PostgreSQL, RabbitMQ, nginx, Chromium, Prometheus and Go from apt first
// (a no-op when they are present), so `npm test` works for a newcomer as it does in CI.
if (needs.size > 0 && spawnSync('bash', ['scripts/install-system-deps.sh'], { stdio: 'inherit' }).status !== 0) {
  console.error('could not install the system packages the tests need (scripts/install-system-deps.sh needs root or sudo)');
  process.exit(1);
}
const withServices = [...needs].some((need) => SERVICES.has(need));
const env = { ...process.env, ...(withServices ? startServices() : {}) };
// `npx herald` (the README's command, which several test files run) makes npm put this
// checkout in its npx cache on first use, and two files doing that at once race: one reads the
// cache's package.json while the other writes it (ENOENT, exit 254). Once it is there, later
// calls only read it.
const warm = spawnSync('npx', ['herald', '--help'], { stdio: 'ignore', env });
if (warm.status !== 0) console.error(`npx herald --help exited with ${warm.status ?? warm.signal}: the tests that run the CLI through npx will fail too`);
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files], { stdio: 'inherit', env });
// Leave no service running behind the suite, unless asked to keep them for another run.
if (withServices && !process.env.HERALD_KEEP_SERVICES) spawnSync('bash', ['scripts/services/down.sh'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
