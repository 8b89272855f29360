#!/usr/bin/env node
// The `herald` command: serve, token, publish, tail, migrate, backup, vapid-keys.
// Errors are one line on stderr naming the option or the cause: exit 2 for a usage error
// (fix the command line), 1 for a failure (the server, database or broker said no).
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HeraldStream, type HeraldError as ClientError } from '../../client/src/index.js';
import { mintToken, TokenRefused } from '../auth/jwt.js';
import { isValidUserId } from '../auth/principal.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { devSecretPath, readDevSecret } from '../dev-secret.js';
import { parseRfc3339 } from '../domain/times.js';
import { startHerald, tokenVerifier } from '../main.js';
import { runPrimary } from '../cluster/primary.js';
import { isWorkerProcess, runWorker } from '../cluster/worker.js';
import { VERSION } from '../version.js';
import { isPostgresUrl, openStore, sqlitePath } from '../store/open-store.js';
import { openSqliteHandle } from '../store/sqlite-handle.js';
import { generateVapidKeys } from '../push/vapid-keys.js';

type Values = Record<string, string | boolean | undefined>;

interface Command {
  summary: string;
  usage: string;
  /** What the less obvious options mean, shown by --help under the usage line. */
  details?: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** How many arguments besides the options it takes (default none). */
  positionals?: number;
  run(values: Values, config: () => Config, positionals: string[]): Promise<number | void>;
}

/** The command line is wrong: exit 2. */
class UsageError extends Error {}
/** The command line is fine but the work failed: exit 1. */
class Failure extends Error {}

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** HERALD_URL, else the local server on HERALD_PORT (what `herald serve` here listens on), else DEFAULT_URL. */
const urlOption = {
  type: 'string', default: process.env.HERALD_URL || (process.env.HERALD_PORT ? `http://127.0.0.1:${process.env.HERALD_PORT}` : DEFAULT_URL),
} as const;
const DEFAULT_TTL_S = 86_400;
/** A minted token lives at most 30 days: a longer-lived one is a password that cannot be changed. */
const MAX_TTL_S = 30 * 86_400;

function baseUrl(values: Values): string {
  const url = String(values.url);
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--url must be an http(s) URL such as ${DEFAULT_URL} (got "${url}")`);
  }
  return url.replace(/\/+$/, '');
}

/**
 * The key tokens are signed with, and where it came from. Said on stderr every time the CLI
 * mints one: a token signed with the development secret of ./data is refused (401) by a
 * server started with another HERALD_JWT_SECRET, such as the local cluster's.
 */
function signingKey(config: Config): { secret: string; source: string } {
  if (config.jwtSecret) return { secret: config.jwtSecret, source: 'HERALD_JWT_SECRET' };
  if (config.devMode) {
    const path = relative(process.cwd(), devSecretPath(config.databaseUrl)) || devSecretPath(config.databaseUrl);
    return {
      secret: readDevSecret(config.databaseUrl),
      source: `the development secret ${path} (HERALD_JWT_SECRET is unset; only a development server using that file accepts it)`,
    };
  }
  throw new ConfigError('HERALD_JWT_SECRET must be set to mint tokens (public-key servers take tokens from your identity provider)');
}

/** Which key signed the token publish/tail minted: said when the server refuses it. */
let mintedWith: string | undefined;

async function mint(config: Config, claims: { sub: string; scope: string; groups?: string[]; ttlS: number }): Promise<{ token: string; source: string }> {
  const key = signingKey(config);
  const token = await mintToken(key.secret, { ...claims, audience: config.jwtAudience, issuer: config.jwtIssuer });
  return { token, source: key.source };
}

/**
 * The token given to publish/tail: `--token -` reads it from stdin, else HERALD_TOKEN. Never
 * from the command line itself, which every user of the machine sees in `ps`.
 */
let given: Promise<string | null> | undefined;
function givenToken(values: Values): Promise<string | null> {
  // stdin can be read once; tail asks again on every reconnect.
  given ??= readGivenToken(values);
  return given;
}

async function readGivenToken(values: Values): Promise<string | null> {
  if (values.token === '-') {
    const token = (await readStdin('--token -')).trim();
    if (token === '') throw new UsageError('--token - read an empty token from stdin');
    return token;
  }
  if (typeof values.token === 'string') {
    throw new UsageError('--token takes only "-" (read the token from stdin): a token on the command line shows in ps; pipe it in, or set HERALD_TOKEN');
  }
  return process.env.HERALD_TOKEN || null;
}

async function tokenFor(values: Values, config: () => Config, sub: string, scope: string): Promise<string> {
  const given = await givenToken(values);
  if (given !== null) return given;
  const { token, source } = await mint(config(), { sub, scope, ttlS: 3600 });
  mintedWith = source;
  return token;
}

/** Why a 401 happened, when the CLI minted the token itself. */
function refusedHint(): string {
  return mintedWith ? ` (the CLI signed the token with ${mintedWith}; give the server's key in HERALD_JWT_SECRET, or pass the token in HERALD_TOKEN)` : '';
}

/** fetch, with "cannot reach" as one line instead of `TypeError: fetch failed`. */
async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new Failure(`cannot reach Herald at ${new URL(url).origin} (${cause(err)}); is it running? (set --url or HERALD_URL)`);
  }
}

/** The innermost useful reason of an error: ECONNREFUSED rather than "fetch failed". */
function cause(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const inner: unknown = current.cause ?? (current instanceof AggregateError ? current.errors[0] : undefined);
    if (!(inner instanceof Error)) break;
    current = inner;
  }
  if (current instanceof Error) {
    const code = 'code' in current && typeof current.code === 'string' ? current.code : '';
    if (!current.message) return code || current.name;
    // A system error's code (ECONNREFUSED) helps when the message lacks it; pg's SQLSTATE does not.
    return /^E[A-Z]+$/.test(code) && !current.message.includes(code) ? `${code}: ${current.message}` : current.message;
  }
  return String(current);
}

async function readStdin(flag: string): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError(`${flag} reads from stdin, but stdin is a terminal (pipe it in)`);
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

/**
 * A time option, checked here with the server's own rule so the error names the flag; the
 * server still judges the range (not past, at most a year ahead, delivery before expiry).
 */
function timeOption(flag: string, value: string): string {
  try {
    parseRfc3339(value, flag);
  } catch {
    throw new UsageError(`${flag} must be an RFC 3339 date-time with an offset, like 2026-12-01T09:00:00Z or 2026-12-01T10:00:00+01:00 (got "${value}")`);
  }
  return value;
}

async function dataOption(value: string): Promise<Record<string, unknown>> {
  const text = value === '-' ? await readStdin('--data -') : value;
  const from = value === '-' ? 'stdin (--data -)' : '--data';
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${from} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new UsageError(`${from} must be a JSON object, like '{"order":42}'`);
  return data as Record<string, unknown>;
}

const SINGLE_PUBLISH_OPTIONS = ['to', 'topic', 'content', 'title', 'data', 'idempotency-key', 'amqp', 'deliver-at', 'expires-at', 'critical'];

/** `publish --batch`: the file's lines in requests of --batch-size, each line's result printed in order. */
async function publishBatchFile(values: Values, config: () => Config): Promise<number> {
  const mixed = SINGLE_PUBLISH_OPTIONS.find((name) => values[name] !== undefined);
  if (mixed) throw new UsageError(`--batch takes each notification from its file: drop --${mixed} (put it in the lines)`);
  const file = String(values.batch);
  if (file === '-' && values.token === '-') throw new UsageError('--batch - and --token - both read stdin: give the token in HERALD_TOKEN');
  const size = Number(values['batch-size'] ?? 500);
  if (!Number.isInteger(size) || size < 1 || size > 10000) throw new UsageError(`--batch-size must be a whole number from 1 to 10000 (got "${values['batch-size']}")`);
  const url = baseUrl(values);
  const lines = await batchLines(file);
  if (lines.length === 0) throw new UsageError(`--batch ${file} has no notification in it (one JSON object per line)`);
  const token = await tokenFor(values, config, 'cli', 'publish');
  let failed = 0;
  for (let start = 0; start < lines.length; start += size) {
    const chunk = lines.slice(start, start + size);
    const res = await request(`${url}/v1/notifications/batch`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ notifications: chunk.map((line) => line.body) }),
    });
    const text = await res.text();
    if (res.status !== 200) {
      throw new Failure(`lines ${chunk[0]?.line}-${chunk.at(-1)?.line}: ${res.status} ${describeError(text)}${res.status === 401 ? refusedHint() : ''}${start > 0 ? ` (lines before ${chunk[0]?.line} were sent)` : ''}`);
    }
    const { results } = JSON.parse(text) as { results: Array<{ status: number }> };
    results.forEach((result, i) => {
      if (result.status !== 202) failed += 1;
      process.stdout.write(`${JSON.stringify({ line: chunk[i]?.line, ...result })}\n`);
    });
  }
  if (failed > 0) throw new Failure(`${failed} of ${lines.length} notifications were not stored (their lines above say why)`);
  return 0;
}

/** The non-blank lines of a JSON-lines file (or stdin), each parsed, with its line number. */
async function batchLines(file: string): Promise<Array<{ line: number; body: unknown }>> {
  let text: string;
  try {
    text = file === '-' ? await readStdin('--batch -') : await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--batch cannot read ${file}: ${cause(err)}`);
  }
  const out: Array<{ line: number; body: unknown }> = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    try {
      out.push({ line: i + 1, body: JSON.parse(raw) });
    } catch (err) {
      throw new UsageError(`--batch ${file} line ${i + 1} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return out;
}

async function publishAmqp(url: string, config: () => Config, body: Record<string, unknown>): Promise<number> {
  const exchange = config().amqpIngestExchange;
  const { Connection } = await import('rabbitmq-client');
  const rabbit = new Connection({ url, connectionTimeout: 5000, retryLow: 200, retryHigh: 1000 });
  rabbit.on('error', () => {}); // reported through onConnect/send below
  try {
    try {
      await rabbit.onConnect(5000);
    } catch (err) {
      throw new Failure(`cannot reach RabbitMQ at ${redact(url)} (${cause(err)})`);
    }
    const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 1 });
    let returned = false;
    // The broker returns an unroutable mandatory message before it confirms it.
    publisher.on('basic.return', () => { returned = true; });
    const messageId = typeof body.idempotency_key === 'string' ? body.idempotency_key : randomUUID();
    try {
      await publisher.send(
        { exchange, routingKey: 'notification', mandatory: true, durable: true, contentType: 'application/json', messageId, appId: 'herald-cli' },
        JSON.stringify(body),
      );
    } catch (err) {
      throw new Failure(`RabbitMQ refused the message (${cause(err)}); has Herald declared exchange "${exchange}"? Start it with HERALD_AMQP_URL first`);
    } finally {
      await publisher.close();
    }
    if (returned) {
      throw new Failure(`RabbitMQ could not route the message to a queue: start Herald with HERALD_AMQP_URL=${redact(url)} first, it declares the queue`);
    }
    process.stdout.write(`${JSON.stringify({ published: { exchange, routing_key: 'notification', message_id: messageId } })}\n`);
    return 0;
  } finally {
    await rabbit.close();
  }
}

/** A URL with its password replaced, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const commands: Record<string, Command> = {
  serve: {
    summary: 'Run the Herald server (configuration from HERALD_* variables).',
    usage: 'herald serve',
    options: {},
    async run(_values, config) {
      const loaded = config();
      // HERALD_WORKERS > 1: this process is the primary, or one of the workers it started (src/cluster/).
      if (isWorkerProcess()) {
        await runWorker(loaded);
        return new Promise<never>(() => {});
      }
      if (loaded.workers > 1) {
        await runPrimary(loaded);
        return new Promise<never>(() => {});
      }
      const herald = await startHerald(loaded);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          herald.shutdown().then(() => process.exit(0), () => process.exit(1));
        });
      }
      return new Promise<never>(() => {});
    },
  },
  token: {
    summary: 'Mint a JWT signed with HERALD_JWT_SECRET (or the development secret); says which on stderr. --verify says why a token is refused.',
    usage: `herald token --sub <user> [--scope "subscribe publish"] [--groups ops,dev] [--ttl <seconds, default ${DEFAULT_TTL_S}>]  |  herald token --verify --token - (or HERALD_TOKEN)`,
    details: '  --verify  check a token as a server with this configuration would: prints its user, scopes and expiry, or why it is refused (exit 1)',
    options: {
      sub: { type: 'string' }, scope: { type: 'string', default: 'subscribe' }, groups: { type: 'string' }, ttl: { type: 'string', default: String(DEFAULT_TTL_S) },
      verify: { type: 'boolean' }, token: { type: 'string' },
    },
    async run(values, config) {
      if (values.verify === true) return verify(values, config());
      if (typeof values.sub !== 'string' || values.sub === '') throw new UsageError('--sub <user> is required');
      if (!isValidUserId(values.sub)) throw new UsageError(`--sub must be 1 to 256 printable characters without spaces (got ${JSON.stringify(values.sub)})`);
      const ttl = String(values.ttl);
      if (!/^[1-9][0-9]{0,8}$/.test(ttl) || Number(ttl) > MAX_TTL_S) {
        throw new UsageError(`--ttl must be a whole number of seconds from 1 to ${MAX_TTL_S} (30 days) (got "${ttl}")`);
      }
      const groups = typeof values.groups === 'string' ? values.groups.split(',').filter(Boolean) : undefined;
      const { token, source } = await mint(config(), { sub: values.sub, scope: String(values.scope), groups, ttlS: Number(ttl) });
      process.stderr.write(`herald: token for "${values.sub}" signed with ${source}\n`);
      process.stdout.write(`${token}\n`);
    },
  },
  publish: {
    summary: 'Publish a notification through the HTTP API (or RabbitMQ with --amqp).',
    usage: 'herald publish (--to <user>[,<user>] | --topic broadcast|group:<name>) --content <text> [--type <type>] [--title <t>] [--data <json>|-] [--deliver-at <time>] [--expires-at <time>] [--critical] [--idempotency-key <k>] [--url <base>] [--token -] [--amqp <amqp-url>]  |  herald publish --batch <file.jsonl|-> [--batch-size <n, default 500>] [--url <base>] [--token -]',
    details: [
      '  --batch <file>       one publish body (JSON, as POST /v1/notifications takes it) per line, sent',
      '                       --batch-size lines per request to POST /v1/notifications/batch; prints one',
      '                       result per line, in order ({"line": n, "status": 202, ...} or an error); exits 1',
      '                       when any line failed',
      '  --deliver-at <time>  deliver later, at this RFC 3339 time (2026-12-01T09:00:00Z); the answer gives the',
      '                       ids, and DELETE /v1/notifications/<id> cancels one before then',
      '  --expires-at <time>  from this RFC 3339 time on it is no longer listed, counted or streamed (must be',
      '                       after --deliver-at)',
      '  --critical           deliver even to recipients who muted its type (PUT /v1/preferences)',
    ].join('\n'),
    options: {
      to: { type: 'string' }, topic: { type: 'string' }, type: { type: 'string', default: 'message' }, content: { type: 'string' },
      title: { type: 'string' }, data: { type: 'string' }, 'idempotency-key': { type: 'string' }, url: urlOption, token: { type: 'string' },
      amqp: { type: 'string' }, 'deliver-at': { type: 'string' }, 'expires-at': { type: 'string' }, critical: { type: 'boolean' },
      batch: { type: 'string' }, 'batch-size': { type: 'string' },
    },
    async run(values, config) {
      if (typeof values.batch === 'string') return publishBatchFile(values, config);
      if (typeof values.to !== 'string' && typeof values.topic !== 'string') throw new UsageError('--to <user> or --topic <topic> is required');
      if (typeof values.content !== 'string') throw new UsageError('--content <text> is required');
      const url = typeof values.amqp === 'string' ? '' : baseUrl(values);
      const body: Record<string, unknown> = { type: values.type, content: values.content };
      if (typeof values.to === 'string') body.recipients = values.to.split(',');
      if (typeof values.topic === 'string') body.topic = values.topic;
      if (typeof values.title === 'string') body.title = values.title;
      if (typeof values.data === 'string') body.data = await dataOption(values.data);
      if (typeof values['deliver-at'] === 'string') body.deliver_at = timeOption('--deliver-at', values['deliver-at']);
      if (typeof values['expires-at'] === 'string') body.expires_at = timeOption('--expires-at', values['expires-at']);
      if (values.critical === true) body.critical = true;
      if (typeof values['idempotency-key'] === 'string') body.idempotency_key = values['idempotency-key'];
      if (typeof values.amqp === 'string') {
        if (!/^amqps?:\/\//.test(values.amqp)) throw new UsageError(`--amqp must be an amqp:// URL (got "${values.amqp}")`);
        return publishAmqp(values.amqp, config, body);
      }
      const token = await tokenFor(values, config, 'cli', 'publish');
      const res = await request(`${url}/v1/notifications`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status === 202) {
        process.stdout.write(`${text}\n`);
        return 0;
      }
      throw new Failure(`${res.status} ${describeError(text)}${res.status === 401 ? refusedHint() : ''}`);
    },
  },
  tail: {
    summary: "Follow a user's stream, one JSON line per event; reconnects with its cursor until Ctrl-C or a 401.",
    usage: 'herald tail (--user <user> | --token - | HERALD_TOKEN=<jwt>) [--url <base>] [--last-event-id <cursor>]',
    options: { user: { type: 'string' }, token: { type: 'string' }, url: urlOption, 'last-event-id': { type: 'string' } },
    async run(values, config) {
      if (typeof values.user !== 'string' && typeof values.token !== 'string' && !process.env.HERALD_TOKEN) {
        throw new UsageError('--user <user>, --token - (the token on stdin) or HERALD_TOKEN is required');
      }
      const url = baseUrl(values);
      let token: string | undefined;
      const stream = new HeraldStream({
        url,
        cursor: typeof values['last-event-id'] === 'string' ? values['last-event-id'] : undefined,
        // A minted token is minted again when the server refused it or it expired, so a
        // long tail outlives its exp.
        getToken: async ({ reason }) => {
          if (reason !== 'connect' || !token) token = await tokenFor(values, config, String(values.user), 'subscribe');
          return token;
        },
      });
      const print = (event: string, data: unknown) => process.stdout.write(`${JSON.stringify({ event, id: stream.cursor, data })}\n`);
      stream.on('ready', (e) => print('ready', e));
      stream.on('notification', (e) => print('notification', e));
      stream.on('notification.updated', (e) => print('notification.updated', e));
      stream.on('reset', (e) => print('reset', e));
      let lastError: ClientError | undefined;
      let stopping = false;
      stream.on('error', (err) => {
        lastError = err;
        if (err.code === 'unauthorized' || err.code === 'forbidden' || err.code === 'no_content') return;
        const why = err.code === 'network_error' ? `cannot reach Herald at ${url} (${err.message})` : err.message;
        process.stderr.write(`herald: ${why}; reconnecting${stream.cursor ? ` from ${stream.cursor}` : ''}\n`);
      });
      return new Promise<number>((resolve) => {
        stream.on('state', ({ newState }) => {
          if (newState !== 'closed') return;
          if (stopping) return resolve(0);
          const why = lastError?.status === 401
            ? `the server refused the token (401)${refusedHint()}`
            : lastError?.message ?? 'stream closed';
          process.stderr.write(`herald: ${why}; stopped\n`);
          resolve(lastError?.code === 'no_content' ? 0 : 1);
        });
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.once(signal, () => {
            stopping = true;
            stream.close();
          });
        }
        stream.start();
      });
    },
  },
  backup: {
    summary: 'Copy the SQLite database (HERALD_DATABASE_URL) to a new file, consistent while Herald runs; PostgreSQL: use pg_dump.',
    usage: 'herald backup <file>',
    options: {},
    positionals: 1,
    async run(_values, config, [file]) {
      await backup(config().databaseUrl, file as string);
    },
  },
  'vapid-keys': {
    summary: 'Print a new VAPID key pair for Web Push, as HERALD_VAPID_PUBLIC_KEY and HERALD_VAPID_PRIVATE_KEY lines.',
    usage: 'herald vapid-keys',
    details: 'Set both on every node (and HERALD_VAPID_SUBJECT, a mailto: or https: contact). Keep the pair: browsers subscribed with its public key; a new one makes every subscription stop working.',
    options: {},
    async run() {
      const keys = generateVapidKeys();
      process.stdout.write(`HERALD_VAPID_PUBLIC_KEY=${keys.publicKey}\nHERALD_VAPID_PRIVATE_KEY=${keys.privateKey}\n`);
    },
  },
  migrate: {
    summary: 'Create or upgrade the database schema (HERALD_DATABASE_URL), then exit.',
    usage: 'herald migrate',
    options: {},
    async run(_values, config) {
      const databaseUrl = config().databaseUrl;
      const where = isPostgresUrl(databaseUrl) ? redact(databaseUrl) : databaseUrl;
      let store: Awaited<ReturnType<typeof openStore>> | undefined;
      try {
        store = await openStore(databaseUrl);
        await store.migrate();
        process.stdout.write(`database migrated (epoch ${store.epoch})\n`);
      } catch (err) {
        throw new Failure(`cannot migrate ${where}: ${cause(err)}`);
      } finally {
        await store?.close().catch(() => {});
      }
    },
  },
};

/**
 * `herald backup`: SQLite's VACUUM INTO writes the database as one read transaction sees it
 * (publishes committing meanwhile are in it or not, whole), compacted, into a new file that
 * is private (0600) like the database. It never overwrites a file.
 */
async function backup(databaseUrl: string, file: string): Promise<void> {
  if (isPostgresUrl(databaseUrl)) {
    throw new Failure('herald backup copies a SQLite database; back up PostgreSQL with pg_dump (docs/operations.md, "Backup and restore")');
  }
  const source = sqlitePath(databaseUrl);
  if (!existsSync(source)) throw new Failure(`no database at ${source} (HERALD_DATABASE_URL): nothing to back up`);
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    throw new Failure(`cannot create ${file}: ${(err as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (a backup never overwrites a file)' : cause(err)}`);
  }
  const sqlite = await openSqliteHandle(source, 'full');
  try {
    sqlite.prepare('vacuum into ?').run([file]);
  } catch (err) {
    rmSync(file, { force: true });
    throw new Failure(`cannot back up ${source} to ${file}: ${cause(err)}`);
  } finally {
    sqlite.close();
  }
  process.stdout.write(`${JSON.stringify({ backup: { from: source, to: file, bytes: statSync(file).size } })}\n`);
}

/** `herald token --verify`: the verdict a server with this configuration would give, and why. */
async function verify(values: Values, config: Config): Promise<number> {
  const token = await givenToken(values);
  if (token === null) throw new UsageError('--verify needs the token: --token - (on stdin) or HERALD_TOKEN');
  const secret = config.jwtSecret ?? (config.devMode ? readDevSecret(config.databaseUrl) : null);
  try {
    const principal = await tokenVerifier(config, secret).verify(token);
    const groups = principal.groups.length > 0 ? `, groups ${principal.groups.join(',')}` : '';
    process.stdout.write(`valid: user ${principal.sub}, scopes ${[...principal.scopes].join(' ') || '(none)'}${groups}, expires ${new Date(principal.exp * 1000).toISOString()}\n`);
    return 0;
  } catch (err) {
    if (err instanceof TokenRefused) throw new Failure(`refused: ${err.reason}`);
    throw err;
  }
}

/** `{"error":{"code","message"}}` as `code: message`; anything else as it came (one line). */
function describeError(text: string): string {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (error?.code) return `${error.code}: ${error.message ?? ''}`;
  } catch {
    // not JSON: a proxy's page, say
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function help(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: herald <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "herald <command> --help" for a command's options, "herald --version" for the version.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`herald ${VERSION}\n`);
    return 0;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (!name) {
    process.stderr.write(help());
    return 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}" (run "herald --help")`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.summary}\n\nUsage: ${command.usage}\n${command.details ? `\n${command.details}\n` : ''}`);
    return 0;
  }
  let values: Values;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: command.options, allowPositionals: (command.positionals ?? 0) > 0, strict: true });
    values = parsed.values as Values;
    positionals = parsed.positionals;
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)} (see "herald ${name} --help")`);
  }
  if (positionals.length !== (command.positionals ?? 0)) throw new UsageError(`usage: ${command.usage}`);
  const code = await command.run(values, () => loadConfig(), positionals);
  return code ?? 0;
}

main(process.argv.slice(2)).then((code) => {
  if (code !== 0) process.exitCode = code;
}, (err: unknown) => {
  const usage = err instanceof UsageError;
  const message = err instanceof UsageError || err instanceof Failure || err instanceof ConfigError
    ? err.message
    // Unexpected: still one line; HERALD_DEBUG=1 shows the stack.
    : process.env.HERALD_DEBUG ? String(err instanceof Error ? err.stack : err) : cause(err);
  process.stderr.write(`herald: ${message}\n`);
  process.exit(usage ? 2 : 1);
});
