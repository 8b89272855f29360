// The Dockerfile, .dockerignore and deploy/compose/*.yaml, checked without a container engine
// (none runs where the suite runs): the instructions are parsed and checked, the runtime
// stage's COPY lines are replayed from this checkout's build into a temporary folder, and
// Herald is started from there as the image's user with the image's ENV, as `docker run`
// would. The image build itself is not run here (docs/operations.md#containers).
//
// deploy/compose/nginx-herald.conf is derived from deploy/nginx/herald.conf; after changing
// that file, rewrite it with: HERALD_WRITE_DOCS=1 node scripts/run-tests.mjs ops/container
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { mintToken } from '../../src/auth/jwt.js';
import { loadConfig, unknownVariables } from '../../src/config.js';
import { publish } from '../helpers/publish.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILE = join(ROOT, 'Dockerfile');
const COMPOSE_DIR = join(ROOT, 'deploy', 'compose');
const NGINX_CONF = join(ROOT, 'deploy', 'nginx', 'herald.conf');
const COMPOSE_NGINX_CONF = join(COMPOSE_DIR, 'nginx-herald.conf');

// ---- Dockerfile parsing ------------------------------------------------------------------

interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

/** Instructions in order. Comment lines are dropped, also inside a continuation, as Docker does. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { parts: string[]; line: number } | null = null;
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*#/.test(line)) return;
    if (pending === null && line.trim() === '') return;
    const continued = /\\\s*$/.test(line);
    const part = continued ? line.replace(/\\\s*$/, '') : line;
    pending ??= { parts: [], line: index + 1 };
    pending.parts.push(part.trim());
    if (continued) return;
    const joined = pending.parts.filter(Boolean).join(' ');
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (match) out.push({ keyword: (match[1] ?? '').toUpperCase(), args: match[2] ?? '', line: pending.line });
    pending = null;
  });
  assert.equal(pending, null, 'the Dockerfile does not end inside a line continuation');
  return out;
}

/** Leading `--name=value` flags, and what follows them. */
function flags(args: string): { flags: Record<string, string>; rest: string } {
  const found: Record<string, string> = {};
  let rest = args;
  for (let match = /^--([\w-]+)=(\S+)\s*/.exec(rest); match; match = /^--([\w-]+)=(\S+)\s*/.exec(rest)) {
    found[match[1] ?? ''] = match[2] ?? '';
    rest = rest.slice(match[0].length);
  }
  return { flags: found, rest };
}

/** The exec (JSON) form of CMD, ENTRYPOINT, HEALTHCHECK CMD or COPY; null for the shell form. */
function execForm(args: string): string[] | null {
  if (!args.trim().startsWith('[')) return null;
  const parsed: unknown = JSON.parse(args);
  assert.ok(Array.isArray(parsed) && parsed.every((item) => typeof item === 'string'), `an array of strings: ${args}`);
  return parsed as string[];
}

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = flags(instruction.args).rest.split(/\s+/);
      const named = words.length === 3 && words[1]?.toUpperCase() === 'AS';
      stages.push({ image: words[0] ?? '', name: named ? (words[2] ?? null) : null, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${instruction.keyword} on line ${instruction.line} comes before any FROM`);
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** ENV values of a stage (`ENV A=1 B=2` and the legacy `ENV A 1`); quotes removed. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!args.includes('=')) {
      const [name, ...value] = args.split(/\s+/);
      env[name ?? ''] = value.join(' ');
      continue;
    }
    for (const pair of args.match(/\S+=("[^"]*"|'[^']*'|\S*)/g) ?? []) {
      const at = pair.indexOf('=');
      env[pair.slice(0, at)] = pair.slice(at + 1).replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  return env;
}

interface Copy {
  from: string | null;
  sources: string[];
  dest: string;
  line: number;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions.filter((i) => i.keyword === 'COPY').map((instruction) => {
    const { flags: given, rest } = flags(instruction.args);
    const words = execForm(rest) ?? rest.split(/\s+/);
    return { from: given.from ?? null, sources: words.slice(0, -1), dest: words.at(-1) ?? '', line: instruction.line };
  });
}

/** A `.dockerignore` as Docker reads it: the last matching pattern wins; `!` re-includes. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#')).map((line) => {
    const negate = line.startsWith('!');
    const pattern = posix.normalize(line.replace(/^!/, '')).replace(/^\/+|\/+$/g, '');
    const source = pattern.split('/').map((part) => part === '**'
      ? '.*'
      : part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('/').replace(/\.\*\//g, '(?:.*/)?');
    return { negate, regex: new RegExp(`^${source}$`) };
  });
  return (path) => {
    const parts = posix.normalize(path).replace(/^\.?\/+/, '').split('/');
    // A pattern that matches a parent folder excludes everything in it.
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.negate;
    }
    return excluded;
  };
}

const instructions = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const stages = stagesOf(instructions);
const runtime = stages.at(-1) as Stage;
const imageEnv = envOf(runtime);
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
const last = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).at(-1);
const runtimeUser = (last(runtime, 'USER')?.args ?? '').split(':')[0] ?? '';
const workdir = last(runtime, 'WORKDIR')?.args ?? '/';
const volumes = runtime.instructions.filter((i) => i.keyword === 'VOLUME').flatMap((i) => execForm(i.args) ?? i.args.split(/\s+/));
const healthcheck = ((): string[] => {
  const args = last(runtime, 'HEALTHCHECK')?.args ?? '';
  const command = /^CMD\s+(.*)$/.exec(flags(args).rest)?.[1] ?? '';
  return execForm(command) ?? [];
})();
const cmd = execForm(last(runtime, 'CMD')?.args ?? '') ?? [];

test('the Dockerfile is multi-stage: every stage is named, and the runtime stage takes files only from an earlier one', () => {
  assert.ok(stages.length >= 2, 'at least a build and a runtime stage');
  assert.deepEqual(stages.filter((s) => s.name === null).map((s) => s.image), []);
  const names = stages.map((s) => s.name);
  for (const copy of copiesOf(runtime)) {
    assert.ok(copy.from !== null && names.slice(0, -1).includes(copy.from), `COPY on line ${copy.line} takes from an earlier stage (not the build context)`);
  }
  assert.match(runtime.image, /^node:20-bookworm-slim$/);
});

test('every base image is pinned by a tag, none is latest', () => {
  const names = new Set(stages.map((s) => s.name));
  for (const { image } of stages.filter((s) => !names.has(s.image))) {
    const tag = /^[^@]+:([\w.-]+)$/.exec(image)?.[1];
    assert.ok(tag !== undefined, `${image} names a tag`);
    assert.notEqual(tag, 'latest', image);
  }
});

test('the runtime stage runs as a fixed non-root uid, the user it creates', () => {
  assert.match(runtimeUser, /^\d+$/, 'a numeric uid, so runAsNonRoot and volume owners can name it');
  assert.notEqual(Number(runtimeUser), 0);
  const create = runtime.instructions.find((i) => i.keyword === 'RUN' && /useradd/.test(i.args))?.args ?? '';
  assert.match(create, new RegExp(`useradd [^&]*--uid ${runtimeUser}\\b`));
  // USER comes after every RUN: nothing runs as root in the image after it.
  const userAt = runtime.instructions.findIndex((i) => i.keyword === 'USER');
  assert.deepEqual(runtime.instructions.slice(userAt).filter((i) => i.keyword === 'RUN'), []);
});

test('the HEALTHCHECK asks /readyz with node itself (no curl in the slim image), in exec form with a timeout', () => {
  const args = last(runtime, 'HEALTHCHECK')?.args ?? '';
  assert.equal(healthcheck[0], 'node');
  assert.ok(healthcheck.some((word) => word.includes('/readyz')), healthcheck.join(' '));
  assert.ok(healthcheck.some((word) => word.includes('process.env.HERALD_PORT')), 'follows HERALD_PORT, as the server does');
  assert.ok(flags(args).flags.timeout, '--timeout');
  assert.ok(flags(args).flags['start-period'], '--start-period');
});

test('/data is a volume made and owned by the runtime user before VOLUME, and the SQLite file lives in it', () => {
  assert.deepEqual(volumes, ['/data']);
  assert.ok(imageEnv.HERALD_DATABASE_URL?.startsWith('/data/'), imageEnv.HERALD_DATABASE_URL);
  const volumeAt = runtime.instructions.findIndex((i) => i.keyword === 'VOLUME');
  const chown = runtime.instructions.findIndex((i) => i.keyword === 'RUN' && new RegExp(`chown ${runtimeUser}(:\\d+)? /data\\b`).test(i.args));
  assert.ok(chown !== -1 && chown < volumeAt, 'chown of /data comes before VOLUME (Docker discards changes made after it)');
});

test('the image listens on all interfaces on the port it exposes', () => {
  assert.equal(imageEnv.HERALD_HOST, '0.0.0.0');
  assert.deepEqual(runtime.instructions.filter((i) => i.keyword === 'EXPOSE').map((i) => i.args), [imageEnv.HERALD_PORT]);
});

test('CMD is the exec form of `node dist/src/cli/herald.js serve`, with SIGTERM as the stop signal and no shell in between', () => {
  assert.deepEqual(cmd, ['node', 'dist/src/cli/herald.js', 'serve']);
  assert.equal(last(runtime, 'ENTRYPOINT'), undefined);
  assert.equal(last(runtime, 'STOPSIGNAL')?.args, 'SIGTERM');
});

test('no ADD (so no remote URL is fetched into the image)', () => {
  assert.deepEqual(instructions.filter((i) => i.keyword === 'ADD').map((i) => i.line), []);
});

test('dependencies are installed with npm ci from the lockfile, never npm install', () => {
  const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  assert.ok(runs.some((run) => /\bnpm ci\b/.test(run)));
  assert.deepEqual(runs.filter((run) => /\bnpm (install|i)\b/.test(run)), []);
  assert.ok(copiesOf(stages[0] as Stage).some((copy) => copy.sources.includes('package-lock.json')));
});

test('better-sqlite3 is compiled from source in the build stage; the runtime stage installs no compiler', () => {
  const build = stages[0] as Stage;
  assert.equal(envOf(build).npm_config_build_from_source, 'better-sqlite3');
  assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && /apt-get install[^&]*\bg\+\+/.test(i.args) && /\bpython3\b/.test(i.args) && /\bmake\b/.test(i.args)));
  assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && /npm rebuild better-sqlite3/.test(i.args)));
  assert.ok(build.instructions.some((i) => i.keyword === 'RUN' && /npm prune --omit=dev/.test(i.args)));
  assert.deepEqual(runtime.instructions.filter((i) => i.keyword === 'RUN' && /apt-get|g\+\+|npm/.test(i.args)).map((i) => i.line), []);
});

test('every COPY from the build context names a file that exists and that .dockerignore lets through', () => {
  const sources = stages.flatMap(copiesOf).filter((copy) => copy.from === null).flatMap((copy) => copy.sources);
  assert.ok(sources.length > 0);
  assert.deepEqual(sources.filter((source) => !existsSync(join(ROOT, source))), [], 'missing from the repository');
  assert.deepEqual(sources.filter((source) => ignored(source)), [], 'excluded by .dockerignore');
});

test('the build stage gets every file `npm run build` names', () => {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build ?? '';
  const named = [...script.matchAll(/(?:node|-p)\s+(\S+)/g)].map((m) => m[1] ?? '');
  assert.ok(named.length >= 4, script);
  const copied = copiesOf(stages[0] as Stage).filter((c) => c.from === null).flatMap((c) => c.sources);
  assert.deepEqual(named.filter((file) => !copied.some((source) => file === source || file.startsWith(`${source}/`))), []);
  assert.deepEqual(named.filter((file) => ignored(file)), []);
});

test('.dockerignore keeps local builds, dependencies, data and git out of the build context', () => {
  for (const path of ['node_modules/x', 'client/node_modules/x', 'dist/src/main.js', 'web/dist/app.js', 'client/dist/index.js', 'data/herald.db', 'data/herald-dev-secret', '.tmp/services.env', '.git/HEAD', 'herald.log']) {
    assert.ok(ignored(path), path);
  }
});

/** Repository paths the runtime stage copies from the build stage's WORKDIR. */
function runtimeCopies(): Array<{ source: string; dest: string }> {
  const buildWorkdir = last(stages[0] as Stage, 'WORKDIR')?.args ?? '/';
  return copiesOf(runtime).flatMap((copy) => copy.sources.map((source) => ({
    source: posix.relative(buildWorkdir, source),
    dest: posix.relative(workdir, posix.resolve(workdir, copy.dest)),
  })));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => join(dir, f));
}

test('every file the compiled server reads or imports is one the runtime stage copies, and every package it imports is a production dependency', () => {
  const copied = runtimeCopies().map((c) => c.dest);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const outside: string[] = [];
  const devOnly = new Set<string>();
  for (const file of [...filesUnder(join(ROOT, 'dist', 'src')), ...filesUnder(join(ROOT, 'dist', 'client', 'src'))]) {
    const text = readFileSync(file, 'utf8');
    const relatives = [
      ...[...text.matchAll(/new URL\(\s*'([^']+)'\s*,\s*import\.meta\.url\s*\)/g)].map((m) => m[1] ?? ''),
      ...[...text.matchAll(/(?:from|import\()\s*'(\.[^']+)'/g)].map((m) => m[1] ?? ''),
    ];
    for (const rel of relatives) {
      const target = relative(ROOT, resolve(dirname(file), rel)).split('\\').join('/');
      if (!copied.some((dest) => target === dest || target.startsWith(`${dest}/`))) outside.push(`${relative(ROOT, file)} -> ${target}`);
    }
    // Package specifiers: not relative, not node:, not a URL path inside a string ('/herald-client.js').
    for (const m of text.matchAll(/(?:from|import\()\s*'([^./'][^']*)'/g)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? '');
      if (!(name in pkg.dependencies)) devOnly.add(name);
    }
  }
  assert.deepEqual(outside, []);
  assert.deepEqual([...devOnly], []);
  assert.ok(copied.includes('node_modules') && copied.includes('package.json'));
});

// ---- compose files -----------------------------------------------------------------------

interface Service {
  build?: { context?: string; dockerfile?: string } | string;
  image?: string;
  environment?: Record<string, string | number | null> | string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  ports?: unknown[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet?: string }> } } | null>;
}

const COMPOSE_FILES = ['embedded.yaml', 'scale-out.yaml'];
const composeText = (file: string) => readFileSync(join(COMPOSE_DIR, file), 'utf8');
const compose = (file: string) => parse(composeText(file), { merge: true }) as Compose;

/** The variables `docker compose` would need, as a user following the file's header sets them. */
const SAMPLE_VARIABLES: Record<string, string> = {
  HERALD_JWT_SECRET: randomBytes(32).toString('hex'), POSTGRES_PASSWORD: 'pgpass0123', RABBITMQ_PASSWORD: 'mqpass0123',
};
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)[^}]*\}/g, (_all, name: string) => {
    assert.ok(name in SAMPLE_VARIABLES, `${name} has a sample value`);
    return SAMPLE_VARIABLES[name] ?? '';
  });
}

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const pairs = Array.isArray(env) ? env.map((item) => item.split(/=(.*)/s).slice(0, 2)) : Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]);
  return Object.fromEntries(pairs);
}

/** Services built from this repository's Dockerfile. */
function heraldServices(file: string): Array<[string, Service]> {
  return Object.entries(compose(file).services).filter(([, service]) => typeof service.build === 'object' && resolve(COMPOSE_DIR, service.build.context ?? '.') === resolve(ROOT));
}

function hasHealthcheck(service: Service): boolean {
  const own = service.healthcheck;
  if (own?.disable) return false;
  if (own?.test !== undefined) return true;
  // Otherwise the image's: only the one this repository's Dockerfile builds is known to have one.
  return typeof service.build === 'object' && last(runtime, 'HEALTHCHECK') !== undefined;
}

function dependsOn(service: Service): Record<string, { condition?: string }> {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((name) => [name, {}])) : deps;
}

for (const file of COMPOSE_FILES) {
  test(`${file}: every service has a healthcheck (its own or the image's) or waits on its dependencies' health`, () => {
    const { services } = compose(file);
    const unchecked = Object.entries(services).filter(([, service]) => !hasHealthcheck(service)
      && !(Object.keys(dependsOn(service)).length > 0 && Object.values(dependsOn(service)).every((d) => d.condition === 'service_healthy')));
    assert.deepEqual(unchecked.map(([name]) => name), []);
  });

  test(`${file}: every service another waits on with service_healthy has a healthcheck to wait for`, () => {
    const { services } = compose(file);
    const awaited = Object.values(services).flatMap((service) => Object.entries(dependsOn(service)).filter(([, d]) => d.condition === 'service_healthy').map(([name]) => name));
    assert.deepEqual(awaited.filter((name) => !services[name] || !hasHealthcheck(services[name])), []);
  });

  test(`${file}: builds Herald from the repository's Dockerfile`, () => {
    const herald = heraldServices(file);
    assert.ok(herald.length > 0);
    for (const [, service] of herald) {
      assert.ok(typeof service.build === 'object');
      assert.equal(resolve(COMPOSE_DIR, service.build.context ?? '.', service.build.dockerfile ?? 'Dockerfile'), DOCKERFILE);
    }
  });

  test(`${file}: every variable a Herald service sets is one Herald reads (no typo goes unnoticed)`, () => {
    const names = heraldServices(file).flatMap(([, service]) => Object.keys(environment(service)));
    assert.ok(names.length > 0);
    assert.deepEqual(names.filter((name) => !name.startsWith('HERALD_')), []);
    assert.deepEqual(unknownVariables(Object.fromEntries(names.map((name) => [name, 'x']))), []);
    assert.deepEqual(unknownVariables(imageEnv), [], 'the Dockerfile\'s ENV too');
  });

  test(`${file}: HERALD_JWT_SECRET and every other \${…} must be set by the user; none has a default`, () => {
    const uses = [...composeText(file).matchAll(/\$\{([^}]*)\}/g)].map((m) => m[1] ?? '');
    assert.ok(uses.some((use) => use.startsWith('HERALD_JWT_SECRET:?')));
    assert.deepEqual(uses.filter((use) => !/^\w+:\?.+/.test(use)), []);
    for (const [, service] of heraldServices(file)) assert.match(environment(service).HERALD_JWT_SECRET ?? '', /^\$\{HERALD_JWT_SECRET:\?/);
  });

  test(`${file}: each Herald service's environment over the image's ENV is a configuration Herald accepts, with a key`, () => {
    for (const [name, service] of heraldServices(file)) {
      const env = { ...imageEnv, ...Object.fromEntries(Object.entries(environment(service)).map(([k, v]) => [k, interpolate(v)])) };
      const config = loadConfig(env);
      assert.equal(config.devMode, false, name);
      assert.equal(config.host, '0.0.0.0', name);
    }
  });

  test(`${file}: every named volume a service mounts is declared`, () => {
    const { services, volumes: declared = {} } = compose(file);
    const named = Object.values(services).flatMap((service) => (service.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source) ?? ''))
      .filter((source) => !/^[./~]/.test(source));
    assert.deepEqual(named.filter((source) => !(source in (declared ?? {}))), []);
  });

  test(`${file}: Herald gets 30 s to drain on stop (Docker's default is 10 s, HERALD_DRAIN_MS alone)`, () => {
    for (const [name, service] of heraldServices(file)) {
      const seconds = /^(\d+)s$/.exec(service.stop_grace_period ?? '')?.[1];
      assert.ok(seconds !== undefined && Number(seconds) >= 30, `${name}: stop_grace_period ${service.stop_grace_period}`);
    }
  });
}

test('embedded.yaml: the SQLite file\'s folder, /data, is a named volume', () => {
  const [herald] = heraldServices('embedded.yaml');
  const service = herald?.[1] ?? {};
  const mounts = (service.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [v.source, v.target]));
  assert.ok(mounts.some(([source, target]) => target === volumes[0] && source !== undefined && /^\w/.test(source)), JSON.stringify(mounts));
});

const scaleOut = () => compose('scale-out.yaml');
const nginx = () => scaleOut().services.nginx as Service;
const nginxAddress = () => {
  const networks = nginx().networks;
  return Array.isArray(networks) || networks === undefined ? undefined : Object.values(networks)[0]?.ipv4_address;
};

test('scale-out.yaml: two Herald nodes on PostgreSQL and RabbitMQ, reached by their service names with the credentials those services get', () => {
  const { services } = scaleOut();
  const nodes = heraldServices('scale-out.yaml');
  assert.equal(nodes.length, 2);
  const pg = environment(services.postgres as Service);
  const mq = environment(services.rabbitmq as Service);
  for (const [name, node] of nodes) {
    const env = environment(node);
    const db = new URL(interpolate(env.HERALD_DATABASE_URL ?? ''));
    assert.equal(db.protocol, 'postgres:', name);
    assert.equal(db.hostname, 'postgres', name);
    assert.equal(db.username, pg.POSTGRES_USER, name);
    assert.equal(db.password, interpolate(pg.POSTGRES_PASSWORD ?? ''), name);
    assert.equal(db.pathname, `/${pg.POSTGRES_DB}`, name);
    const amqp = new URL(interpolate(env.HERALD_AMQP_URL ?? ''));
    assert.equal(amqp.hostname, 'rabbitmq', name);
    assert.equal(amqp.username, mq.RABBITMQ_DEFAULT_USER, name);
    assert.equal(amqp.password, interpolate(mq.RABBITMQ_DEFAULT_PASS ?? ''), name);
    assert.deepEqual(Object.keys(dependsOn(node)).sort(), ['postgres', 'rabbitmq'], name);
  }
});

test('scale-out.yaml: the nodes trust X-Forwarded-For only from nginx\'s fixed address, inside the network\'s subnet', () => {
  const address = nginxAddress();
  assert.ok(address, 'nginx has an ipv4_address');
  for (const [name, node] of heraldServices('scale-out.yaml')) assert.equal(environment(node).HERALD_TRUST_PROXY, address, name);
  const subnet = Object.values(scaleOut().networks ?? {})[0]?.ipam?.config?.[0]?.subnet ?? '';
  const [net = '', bits = ''] = subnet.split('/');
  const prefix = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0) >>> (32 - Number(bits));
  assert.match(bits, /^\d+$/, `a subnet: ${subnet}`);
  assert.equal(prefix(address), prefix(net), `${address} is in ${subnet}`);
});

test('scale-out.yaml: only nginx publishes a port; the nodes are reached through it', () => {
  const published = Object.entries(scaleOut().services).filter(([, service]) => (service.ports ?? []).length > 0).map(([name]) => name);
  assert.deepEqual(published, ['nginx']);
});

test('scale-out.yaml: nginx mounts the compose nginx config, which exists, over the image\'s default server', () => {
  const mounts = (nginx().volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [v.source, v.target]));
  const conf = mounts.find(([, target]) => target === '/etc/nginx/conf.d/default.conf');
  assert.ok(conf?.[0], JSON.stringify(mounts));
  assert.equal(resolve(COMPOSE_DIR, conf[0]), COMPOSE_NGINX_CONF);
  assert.ok(existsSync(COMPOSE_NGINX_CONF));
});

/** deploy/nginx/herald.conf for compose: upstream servers by service name, a name to answer, logs to the image's stdout. */
function composeNginxConf(template: string, nodes: string[], port: string): string {
  const replace = (text: string, pattern: RegExp, by: string) => {
    assert.match(text, pattern, `deploy/nginx/herald.conf still has ${pattern}`);
    return text.replace(pattern, by);
  };
  const servers = nodes.map((node) => `    server ${node}:${port} max_fails=1 fail_timeout=5s;`).join('\n');
  let out = replace(template, /^(\s*server\s+[\d.]+:\d+[^;]*;\s*\n)+/m, `${servers}\n`);
  out = replace(out, /server_name herald\.example\.com;/, 'server_name localhost;');
  // The nginx image links access.log to its stdout.
  out = replace(out, /access_log \/var\/log\/nginx\/herald-access\.log/g, 'access_log /var/log/nginx/access.log');
  return [
    '# Generated from deploy/nginx/herald.conf by test/ops/container.test.ts for deploy/compose/scale-out.yaml:',
    '# the same file with the compose services as upstream servers, server_name localhost, and the',
    '# access log on the nginx image\'s stdout. Do not edit: change deploy/nginx/herald.conf, then run',
    '#   HERALD_WRITE_DOCS=1 node scripts/run-tests.mjs ops/container',
    '',
    out,
  ].join('\n');
}

test('scale-out.yaml: its nginx config is deploy/nginx/herald.conf with only the upstream servers, server_name and access log changed', () => {
  const expected = composeNginxConf(readFileSync(NGINX_CONF, 'utf8'), heraldServices('scale-out.yaml').map(([name]) => name), imageEnv.HERALD_PORT ?? '');
  if (process.env.HERALD_WRITE_DOCS === '1') writeFileSync(COMPOSE_NGINX_CONF, expected);
  assert.equal(readFileSync(COMPOSE_NGINX_CONF, 'utf8'), expected, 'regenerate it: HERALD_WRITE_DOCS=1 node scripts/run-tests.mjs ops/container');
});

test('scale-out.yaml: both nginx configs relay the stream unbuffered, over HTTP/1.1 keep-alive, with the stream timeouts of the shipped recipe', () => {
  const directives = (text: string) => {
    const stream = /location = \/v1\/stream \{([^}]*)\}/.exec(text)?.[1] ?? '';
    return {
      buffering: /proxy_buffering off;/.test(stream), cache: /proxy_cache off;/.test(stream),
      read: /proxy_read_timeout (\S+);/.exec(stream)?.[1], send: /proxy_send_timeout (\S+);/.exec(stream)?.[1],
      http11: /proxy_http_version 1\.1;/.test(text), connection: /proxy_set_header Connection "";/.test(text),
      // Herald's own X-Accel-Buffering: no must not be ignored.
      accel: !/proxy_ignore_headers[^;]*X-Accel-Buffering/i.test(text),
    };
  };
  const shipped = directives(readFileSync(NGINX_CONF, 'utf8'));
  assert.deepEqual(shipped, { buffering: true, cache: true, read: '25s', send: '1h', http11: true, connection: true, accel: true });
  assert.deepEqual(directives(readFileSync(COMPOSE_NGINX_CONF, 'utf8')), shipped);
  const upstream = /upstream herald_nodes \{([^}]*)\}/.exec(readFileSync(COMPOSE_NGINX_CONF, 'utf8'))?.[1] ?? '';
  const servers = [...upstream.matchAll(/^\s*server\s+(\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(servers, heraldServices('scale-out.yaml').map(([name]) => `${name}:${imageEnv.HERALD_PORT}`));
});

test('both nginx configs give up on any other request after 20 s: above Herald\'s own 15 s bound, below nginx\'s 60 s default', () => {
  const readTimeout = (text: string) => /location \/ \{([^}]*)\}/.exec(text)?.[1]?.match(/proxy_read_timeout (\S+);/)?.[1];
  assert.equal(readTimeout(readFileSync(NGINX_CONF, 'utf8')), '20s');
  assert.equal(readTimeout(readFileSync(COMPOSE_NGINX_CONF, 'utf8')), '20s');
});

// ---- the runtime stage, replayed without an engine ---------------------------------------

/** A port nothing listens on (taken and released at once). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

const uid = Number(runtimeUser);
const asRoot = process.getuid?.() === 0;
const NOT_ROOT = asRoot ? false : `needs root to run Herald as uid ${runtimeUser} (setpriv), as the image does`;

describe('the runtime stage, laid out from this checkout\'s build and run as the image\'s user', { skip: NOT_ROOT }, () => {
  let work = '';
  let app = '';
  let data = '';
  let server: ChildProcess | null = null;
  let exited: Promise<number | null> = Promise.resolve(null);
  const logs: string[] = [];
  let port = 0;
  const secret = randomBytes(32).toString('hex');

  /** Runs `command` as the image's user from the runtime folder, with the image's ENV and these over it. */
  function asImageUser(command: string[], env: Record<string, string>): ChildProcess {
    return spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', ...command], {
      cwd: app, env: { PATH: process.env.PATH ?? '', ...imageEnv, HERALD_DATABASE_URL: (imageEnv.HERALD_DATABASE_URL ?? '').replace(/^\/data\//, `${data}/`), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'herald-container-'));
    chmodSync(work, 0o755);
    // The build stage's production node_modules: this checkout's, pruned as the build stage prunes it.
    const pruned = join(work, 'build');
    mkdirSync(pruned);
    for (const name of ['package.json', 'package-lock.json', 'node_modules']) cpSync(join(ROOT, name), join(pruned, name), { recursive: true, verbatimSymlinks: true });
    const prune = spawnSync('npm', ['prune', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: pruned, encoding: 'utf8' });
    assert.equal(prune.status, 0, prune.stderr);
    app = join(work, 'app');
    for (const { source, dest } of runtimeCopies()) {
      const from = existsSync(join(pruned, source)) ? join(pruned, source) : join(ROOT, source);
      assert.ok(existsSync(from), `${source} was built (npm run build)`);
      cpSync(from, join(app, dest), { recursive: true, verbatimSymlinks: true });
    }
    chmodSync(app, 0o755);
    data = join(work, 'data');
    mkdirSync(data, { mode: 0o700 });
    chownSync(data, uid, uid);
    const child = asImageUser(cmd, { HERALD_PORT: '0', HERALD_JWT_SECRET: secret });
    server = child;
    exited = new Promise((done) => child.once('exit', (code) => done(code)));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      logs.push(...lines);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let ended = false;
    void exited.then(() => { ended = true; });
    port = await waitFor(() => {
      if (ended) throw new Error(`herald exited during start:\n${logs.join('\n')}`);
      const line = logs.find((l) => l.includes('"message":"listening"'));
      return line ? (JSON.parse(line) as { port: number }).port : null;
    }, 'herald to listen', 60_000);
  });

  after(async () => {
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('it runs as the image\'s uid, answers /readyz 200, and keeps its SQLite file in the data volume', async () => {
    const status = readFileSync(`/proc/${server?.pid}/status`, 'utf8');
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(res.status, 200, await res.text());
    const db = statSync(join(data, 'herald.db'));
    assert.equal(db.uid, uid);
  });

  test('a publish reaches an open stream', async () => {
    const url = `http://127.0.0.1:${port}`;
    const stream = await openStream(url, await mintToken(secret, { sub: 'alice', scope: 'subscribe' }));
    try {
      assert.equal(stream.status, 200);
      await stream.waitForEvents('ready', 1);
      const answer = await publish(url, await mintToken(secret, { sub: 'publisher', scope: 'publish' }), { recipients: ['alice'], type: 'alert', content: 'from the image layout' });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      const [event] = await stream.waitForEvents('notification', 1);
      assert.equal(event?.data.content, 'from the image layout');
    } finally {
      stream.close();
    }
  });

  test('the inbox page and the browser modules it serves are in the layout', async () => {
    // Bodies are read before any assertion, so no response is left open on a failure.
    const page = await fetch(`http://127.0.0.1:${port}/`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(html, /<html/i);
    const module = await fetch(`http://127.0.0.1:${port}/herald-client.js`);
    const code = await module.text();
    assert.equal(module.status, 200);
    assert.ok(code.length > 0);
  });

  test('the HEALTHCHECK command, run as the image\'s user, exits 0 against it', () => {
    const [command, ...args] = healthcheck;
    const result = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--', command ?? '', ...args], {
      env: { PATH: process.env.PATH ?? '', ...imageEnv, HERALD_PORT: String(port) }, encoding: 'utf8', timeout: 15_000,
    });
    assert.equal(result.status, 0, result.stderr);
  });

  test('the HEALTHCHECK command exits 1 when nothing answers', async () => {
    const [command, ...args] = healthcheck;
    const result = spawnSync(command ?? '', args, { env: { PATH: process.env.PATH ?? '', ...imageEnv, HERALD_PORT: String(await closedPort()) }, encoding: 'utf8', timeout: 15_000 });
    assert.equal(result.status, 1, result.stderr);
  });

  test('SIGTERM (the STOPSIGNAL) stops it with exit code 0, well within the compose stop_grace_period', async () => {
    const started = Date.now();
    server?.kill(last(runtime, 'STOPSIGNAL')?.args as NodeJS.Signals);
    assert.equal(await exited, 0, logs.slice(-10).join('\n'));
    assert.ok(Date.now() - started < 30_000);
  });

  test('with the image\'s ENV and no key it refuses to start, naming HERALD_JWT_SECRET', async () => {
    const child = asImageUser(cmd, {});
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    assert.notEqual(code, 0);
    assert.match(output, /HERALD_HOST=0\.0\.0\.0 is not a loopback address.*HERALD_JWT_SECRET/);
  });
});
