// The only reader of process.env. Every setting, its default and its validation live here.
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { closest, distance } from 'fastest-levenshtein';
import { vapidPairProblem, vapidSubjectProblem } from './push/vapid-keys.js';

export interface Config {
  /** Interface to listen on. Default `127.0.0.1`. */
  readonly host: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  readonly port: number;
  /**
   * Processes serving the port (HERALD_WORKERS: a number, or `auto` for every core Node may
   * use). Default 1: one process, no cluster. More: a primary and this many workers
   * (docs/architecture.md, "Workers").
   */
  readonly workers: number;
  /** SQLite file path / `sqlite:` URL (default `./data/herald.db`) or a `postgres://` URL. */
  readonly databaseUrl: string;
  /**
   * SQLite `synchronous` level: `full` (default) fsyncs every commit, so a 202 survives power
   * loss; `normal` survives a process crash but may lose the last commits on power loss.
   */
  readonly sqliteSynchronous: 'full' | 'normal';
  /** `amqp://` URL selects RabbitMQ for ingest and fan-out; unset: in-process. */
  readonly amqpUrl: string | null;
  /** HS256 secret; null in the embedded default means "generate a development secret". */
  readonly jwtSecret: string | null;
  /** PEM public key (inline or a file path) for RS256/ES256/EdDSA tokens. */
  readonly jwtPublicKey: string | null;
  /** JWKS URL (http/https) or file path, from configuration only (never from a token). */
  readonly jwksUrl: string | null;
  /** How long a fetched JWKS is trusted before it is fetched again, seconds. Default 600. */
  readonly jwksCacheMaxAgeS: number;
  /** Minimum time between two JWKS fetches (an unknown `kid` triggers one), seconds. Default 30. */
  readonly jwksCooldownS: number;
  /** Required `aud` claim; null: not checked (allowed with HERALD_JWT_SECRET only). */
  readonly jwtAudience: string | null;
  /** Required `iss` claim; null: not checked (required with HERALD_JWKS_URL). */
  readonly jwtIssuer: string | null;
  /** Clock tolerance when accepting a token, seconds (0..60). Default 30. */
  readonly jwtClockToleranceS: number;
  /**
   * Key signing stream tickets (HS256). Default: derived from HERALD_JWT_SECRET, so every
   * node sharing that secret accepts every node's tickets; without a secret, random per process.
   */
  readonly ticketSecret: string | null;
  /** Lifetime of a stream ticket, seconds. Default 30. */
  readonly ticketTtlS: number;
  /** Tickets a token `sub` may mint per minute. Default 120. */
  readonly ticketRatePerMinute: number;
  /** Longest request URL (path + query), bytes; longer answers 414. Default 8192. */
  readonly maxUrlBytes: number;
  /** Largest request head (request line + headers), bytes; larger answers 431. Default 16384. */
  readonly maxHeaderBytes: number;
  /**
   * Longest a request may take to arrive, head and body, ms (408, then the connection is
   * closed); a stream is past it once its head has arrived. Default 30000.
   */
  readonly requestTimeoutMs: number;
  /**
   * Connections other than streams one client address may hold at once; the next ones are
   * closed unanswered. Connections from HERALD_TRUST_PROXY peers are not bounded. 0 = no
   * bound. Default 256.
   */
  readonly maxConnectionsPerAddress: number;
  /** CIDRs allowed to reach /v1/*; empty allows all. */
  readonly allowIps: readonly string[];
  /** Peers (IPs/CIDRs) whose X-Forwarded-For is believed. */
  readonly trustProxy: readonly string[];
  /** Exact origins (`https://app.example.com`) allowed by CORS, without credentials; empty disables CORS. */
  readonly corsOrigins: readonly string[];
  /**
   * Herald's own origin as browsers see it (`https://herald.example.com`), from
   * HERALD_PUBLIC_URL; a cookie-authenticated change must come from it. Null: the Host it was sent to.
   */
  readonly publicOrigin: string | null;
  /** Interval between heartbeat comments on each stream, ms. Default 15000. */
  readonly heartbeatMs: number;
  readonly logLevel: string;
  /** Streams in total on this node. Default 20000. */
  readonly maxConnections: number;
  /** Streams per user on this node. Default 16. */
  readonly maxConnectionsPerUser: number;
  /** Streams per client IP on this node. Default 2000. */
  readonly maxConnectionsPerIp: number;
  /** Bytes a stream may have queued in its socket before it is cut. Default 1 MiB. */
  readonly streamBufferBytes: number;
  /** How long a closed stream's unsent bytes may take before its connection is dropped, ms. Default 5000. */
  readonly streamCloseGraceMs: number;
  /** Maximum stream lifetime, ms (jittered down by up to 10 %); 0 = only the token's exp. */
  readonly maxStreamAgeMs: number;
  /** Window over which SIGTERM spreads stream closes, ms. Default 10000. */
  readonly drainMs: number;
  /**
   * Bearer token `/metrics` requires. Unset: `/metrics` answers only a direct request from a
   * loopback address to a server listening on loopback.
   */
  readonly metricsToken: string | null;
  /** Body limit of POST requests, bytes. Default 1 MiB. */
  readonly maxBodyBytes: number;
  readonly maxRecipients: number;
  /** Notifications per batch publish (POST /v1/notifications/batch). Default 500. */
  readonly maxBatch: number;
  readonly maxContentBytes: number;
  readonly maxDataBytes: number;
  /** Publishes per minute per token sub. Default 6000. */
  readonly publishRatePerMinute: number;
  /** Scheduled notifications (one per recipient) a publisher may have waiting at once. Default 100000. */
  readonly maxScheduledPerPublisher: number;
  /** Requests per minute per token `sub` on every other authenticated /v1 route (inbox, preferences, session). Default 1200. */
  readonly userRatePerMinute: number;
  /**
   * Development conveniences: generated secret, token minting for the inbox page. Only on a
   * loopback HERALD_HOST and never beside a configured key.
   */
  readonly devMode: boolean;
  readonly amqpIngestExchange: string;
  readonly amqpIngestQueue: string;
  readonly amqpDeadLetterQueue: string;
  readonly amqpBusExchange: string;
  readonly amqpPrefetch: number;
  // Operations: overload shedding and retention (docs/operations.md).
  /** Mean event-loop delay above which new streams and publishes get 503, ms; 0 = off. Default 1000. */
  readonly shedEventLoopDelayMs: number;
  /** V8 heap in use above which new streams and publishes get 503, MiB; 0 = off. Default 90 % of V8's heap limit. */
  readonly shedHeapUsedMb: number;
  /** Resident memory above which new streams and publishes get 503, MiB; 0 = off (default). */
  readonly shedRssMb: number;
  /** Retry-After sent with an overload 503, seconds. Default 10. */
  readonly shedRetryAfterS: number;
  /** Notifications older than this many days are deleted, with their per-user state; 0 keeps all. Default 365. */
  readonly retentionDays: number;
  /** Idempotency keys older than this many hours are forgotten (0 = never). Default 24. */
  readonly idempotencyTtlHours: number;
  /** Pause between two retention passes, seconds. Default 3600. */
  readonly retentionIntervalS: number;
  /** Rows deleted per statement by retention; small batches keep publishing unblocked. Default 500. */
  readonly retentionBatchSize: number;
  /** Test-only routes under /test/ (e.g. stalling the event loop); never in production. Default false. */
  readonly testKnobs: boolean;
  /**
   * Web Push VAPID public key (base64url raw P-256). Null with the private key: push is off,
   * except in development mode, where `herald serve` generates a pair beside the database.
   */
  readonly vapidPublicKey: string | null;
  /** Web Push VAPID private key (base64url); set exactly when the public key is. */
  readonly vapidPrivateKey: string | null;
  /** `mailto:` or `https:` contact push services see in each push's VAPID token; required with the keys. */
  readonly vapidSubject: string | null;
  /**
   * Exact origins (`http://127.0.0.1:9000`) Herald may POST pushes to besides the https
   * origins of the known push services: the only way to allow http or loopback.
   */
  readonly pushAllowedOrigins: readonly string[];
  /** How long an `auto` push waits for the user to look (read, see, or have a stream open), ms. Default 10000. */
  readonly pushDelayMs: number;
  /** How long a push service keeps trying to deliver a push (its TTL; never past expires_at), seconds. Default 86400. */
  readonly pushTtlS: number;
  /** Pushes this node sends at once. Default 32. */
  readonly pushConcurrency: number;
  /** Longest wait for a push service's answer (connect included), ms. Default 10000. */
  readonly pushTimeoutMs: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/** Most workers a node runs: far past any machine's cores, so a typo is refused. */
const MAX_WORKERS = 256;

function workers(env: Env): number {
  const raw = str(env, 'HERALD_WORKERS');
  if (raw === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  if (raw === null) return 1;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_WORKERS) {
    throw new ConfigError(`HERALD_WORKERS must be auto or an integer from 1 to ${MAX_WORKERS} (got "${raw}")`);
  }
  return Number(raw);
}

function str(env: Env, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? null : raw.trim();
}

/**
 * Variables holding a key or a setting that only tightens security. Set but blank, each
 * stops the start: an empty value is what a missing CI secret or a `KEY=` line gives, and
 * treating it as unset would quietly fall back to development mode or an unchecked claim.
 */
const NO_BLANK = [
  'HERALD_JWT_SECRET', 'HERALD_JWT_PUBLIC_KEY', 'HERALD_JWKS_URL', 'HERALD_TICKET_SECRET', 'HERALD_METRICS_TOKEN',
  'HERALD_JWT_AUDIENCE', 'HERALD_JWT_ISSUER', 'HERALD_VAPID_PUBLIC_KEY', 'HERALD_VAPID_PRIVATE_KEY', 'HERALD_VAPID_SUBJECT',
] as const;

function refuseBlank(env: Env): void {
  for (const name of NO_BLANK) {
    const raw = env[name];
    if (raw !== undefined && raw.trim() === '') {
      throw new ConfigError(`${name} is set but empty: give it a value or unset it`);
    }
  }
}

/** `localhost`, 127.0.0.0/8 or ::1 (bracketed or not): names that only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost' || name === '::1' || name === '0:0:0:0:0:0:0:1') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

// CORS and the public URL name exact origins: no `*`, no `null`, no paths.
function originList(env: Env, name: string): string[] {
  const items = list(env, name);
  for (const item of items) {
    let ok = false;
    try {
      const url = new URL(item);
      ok = (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === item;
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`${name} must be a comma-separated list of exact origins like https://app.example.com (no "*", no path, no trailing slash; got "${item}")`);
  }
  return items;
}

function publicOrigin(env: Env): string | null {
  const raw = str(env, 'HERALD_PUBLIC_URL');
  if (raw === null) return null;
  let url: URL | null = null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(`HERALD_PUBLIC_URL must be the http(s) URL browsers use to reach Herald, like https://herald.example.com (got "${raw}")`);
  }
  return url.origin;
}

function cidrList(env: Env, name: string): string[] {
  const items = list(env, name);
  for (const item of items) {
    const [addr, bits, extra] = item.split('/');
    const family = isIP(addr ?? '');
    const maxBits = family === 6 ? 128 : 32;
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits);
    if (!family || !bitsOk || extra !== undefined) {
      throw new ConfigError(`${name} must be a comma-separated list of IPs or CIDRs like 10.0.0.0/8 (got "${item}")`);
    }
  }
  return items;
}

/** HERALD_* variables read by others than the server: the CLI, and the test and install scripts. */
const OTHER_VARIABLES = new Set(['HERALD_WORKER_SLOT', 'HERALD_URL', 'HERALD_TOKEN', 'HERALD_DEBUG', 'HERALD_WRITE_DOCS', 'HERALD_POLICY_RC_D']);
const OTHER_PREFIXES = ['HERALD_TEST_', 'HERALD_SERVICES_', 'HERALD_CLUSTER_', 'HERALD_BENCH_'];

/** Every variable loadConfig reads, found by reading them (so the list cannot fall behind). */
let settingNames: string[] | null = null;
function knownSettings(): string[] {
  if (settingNames === null) {
    const read = new Set<string>();
    const recorder = new Proxy({} as Env, { get: (_target, name) => { if (typeof name === 'string') read.add(name); return undefined; } });
    try {
      loadConfig(recorder);
    } catch {
      // Defaults always load; a throw would only shorten the list.
    }
    settingNames = [...read].filter((name) => name.startsWith('HERALD_'));
  }
  return settingNames;
}

/**
 * HERALD_* variables in `env` that no part of Herald reads (a typo such as HERALD_PROT is
 * otherwise silently ignored), each with the closest setting's name when one is near.
 */
export function unknownVariables(env: Env = process.env): Array<{ name: string; closest: string | null }> {
  const known = knownSettings();
  return Object.keys(env)
    .filter((name) => name.startsWith('HERALD_') && !known.includes(name) && !OTHER_VARIABLES.has(name) && !OTHER_PREFIXES.some((p) => name.startsWith(p)))
    .map((name) => {
      const near = closest(name, known);
      return { name, closest: distance(name, near) <= 3 ? near : null };
    });
}

export function loadConfig(env: Env = process.env): Config {
  refuseBlank(env);
  const databaseUrl = str(env, 'HERALD_DATABASE_URL') ?? './data/herald.db';
  // A URL of another database would otherwise name a SQLite file ("mysql:").
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(databaseUrl)?.[1]?.toLowerCase();
  if (scheme !== undefined && !['postgres', 'postgresql', 'sqlite'].includes(scheme)) {
    throw new ConfigError(`HERALD_DATABASE_URL uses ${scheme}://, which Herald does not speak: give a PostgreSQL URL (postgres://user:password@host:5432/db) or a SQLite file path (./data/herald.db)`);
  }
  const amqpUrl = str(env, 'HERALD_AMQP_URL');
  if (amqpUrl && !/^amqps?:\/\//.test(amqpUrl)) {
    throw new ConfigError(`HERALD_AMQP_URL must start with amqp:// or amqps:// (got "${amqpUrl}")`);
  }
  const sqliteSynchronous = str(env, 'HERALD_SQLITE_SYNCHRONOUS') ?? 'full';
  if (sqliteSynchronous !== 'full' && sqliteSynchronous !== 'normal') {
    throw new ConfigError(`HERALD_SQLITE_SYNCHRONOUS must be full or normal (got "${sqliteSynchronous}")`);
  }
  const logLevel = str(env, 'HERALD_LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`HERALD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`);
  }
  const jwtSecret = str(env, 'HERALD_JWT_SECRET');
  if (jwtSecret !== null && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('HERALD_JWT_SECRET must be at least 32 bytes long (HS256 needs a 256-bit key)');
  }
  const jwtPublicKey = str(env, 'HERALD_JWT_PUBLIC_KEY');
  const jwksUrl = str(env, 'HERALD_JWKS_URL');
  const ticketSecret = str(env, 'HERALD_TICKET_SECRET');
  if (ticketSecret !== null && Buffer.byteLength(ticketSecret) < 32) {
    throw new ConfigError('HERALD_TICKET_SECRET must be at least 32 bytes long');
  }
  const devRaw = str(env, 'HERALD_DEV_MODE');
  if (devRaw !== null && !['true', 'false', '1', '0'].includes(devRaw)) {
    throw new ConfigError(`HERALD_DEV_MODE must be true or false (got "${devRaw}")`);
  }
  const jwtAudience = str(env, 'HERALD_JWT_AUDIENCE');
  const jwtIssuer = str(env, 'HERALD_JWT_ISSUER');
  // RFC 8725 §3.9: a public key or JWKS usually belongs to an identity provider that signs
  // tokens for many applications; only `aud` (and, for a provider's JWKS, `iss`) tells a
  // token meant for Herald from one issued to another application for the same user.
  if ((jwtPublicKey || jwksUrl) && !jwtAudience) {
    throw new ConfigError(`HERALD_JWT_AUDIENCE is required with ${jwksUrl ? 'HERALD_JWKS_URL' : 'HERALD_JWT_PUBLIC_KEY'}: set it to the "aud" your identity provider puts in tokens for Herald`);
  }
  if (jwksUrl && !jwtIssuer) {
    throw new ConfigError('HERALD_JWT_ISSUER is required with HERALD_JWKS_URL: set it to the "iss" of your identity provider');
  }
  const hasKey = Boolean(jwtSecret || jwtPublicKey || jwksUrl);
  // Development mode is the embedded default: no key configured at all.
  const devMode = devRaw !== null ? devRaw === 'true' || devRaw === '1' : !hasKey;
  if (devMode && hasKey) {
    const key = jwtSecret ? 'HERALD_JWT_SECRET' : jwtPublicKey ? 'HERALD_JWT_PUBLIC_KEY' : 'HERALD_JWKS_URL';
    throw new ConfigError(`HERALD_DEV_MODE=true cannot be combined with ${key}: development tokens would be trusted in production; unset one of them`);
  }
  const host = str(env, 'HERALD_HOST') ?? '127.0.0.1';
  if (devMode && !isLoopbackHost(host)) {
    throw new ConfigError(`HERALD_HOST=${host} is not a loopback address, and development mode (no key configured) mints tokens for anyone: set HERALD_JWT_SECRET (or a public key) or listen on 127.0.0.1`);
  }
  if (devMode) refuseDevModeBesideProduction(env, databaseUrl, amqpUrl);
  const nodeWorkers = workers(env);
  if (nodeWorkers > 1 && !/^postgres(ql)?:\/\//.test(databaseUrl) && ['', ':memory:'].includes(databaseUrl.replace(/^sqlite:(\/\/)?/, ''))) {
    throw new ConfigError('HERALD_WORKERS above 1 needs a database file (or PostgreSQL): an in-memory SQLite database lives in one process; set HERALD_DATABASE_URL to a file or HERALD_WORKERS=1');
  }
  return Object.freeze({
    host,
    port: int(env, 'HERALD_PORT', 8080, 0, 65535),
    workers: nodeWorkers,
    databaseUrl,
    sqliteSynchronous,
    amqpUrl,
    jwtSecret,
    jwtPublicKey,
    jwksUrl,
    jwksCacheMaxAgeS: int(env, 'HERALD_JWKS_CACHE_MAX_AGE_S', 600, 1, 7 * 24 * 3600),
    jwksCooldownS: int(env, 'HERALD_JWKS_COOLDOWN_S', 30, 0, 3600),
    jwtAudience,
    jwtIssuer,
    jwtClockToleranceS: int(env, 'HERALD_JWT_CLOCK_TOLERANCE_S', 30, 0, 60),
    ticketSecret,
    ticketTtlS: int(env, 'HERALD_TICKET_TTL_S', 30, 5, 300),
    ticketRatePerMinute: int(env, 'HERALD_TICKET_RATE_PER_MINUTE', 120, 1, 1000000),
    maxUrlBytes: int(env, 'HERALD_MAX_URL_BYTES', 8192, 256, 65536),
    maxHeaderBytes: int(env, 'HERALD_MAX_HEADER_BYTES', 16384, 4096, 1024 * 1024),
    requestTimeoutMs: int(env, 'HERALD_REQUEST_TIMEOUT_MS', 30000, 1000, 600000),
    maxConnectionsPerAddress: int(env, 'HERALD_MAX_CONNECTIONS_PER_ADDRESS', 256, 0, 1000000),
    allowIps: Object.freeze(cidrList(env, 'HERALD_ALLOW_IPS')),
    trustProxy: Object.freeze(cidrList(env, 'HERALD_TRUST_PROXY')),
    corsOrigins: Object.freeze(originList(env, 'HERALD_CORS_ORIGINS')),
    publicOrigin: publicOrigin(env),
    heartbeatMs: int(env, 'HERALD_HEARTBEAT_MS', 15000, 100, 300000),
    logLevel,
    maxConnections: int(env, 'HERALD_MAX_CONNECTIONS', 20000, 1, 1000000),
    maxConnectionsPerUser: int(env, 'HERALD_MAX_CONNECTIONS_PER_USER', 16, 1, 100000),
    maxConnectionsPerIp: int(env, 'HERALD_MAX_CONNECTIONS_PER_IP', 2000, 1, 1000000),
    streamBufferBytes: int(env, 'HERALD_STREAM_BUFFER_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    streamCloseGraceMs: int(env, 'HERALD_STREAM_CLOSE_GRACE_MS', 5000, 100, 600000),
    maxStreamAgeMs: int(env, 'HERALD_MAX_STREAM_AGE_MS', 0, 0, 7 * 24 * 3600 * 1000),
    drainMs: int(env, 'HERALD_DRAIN_MS', 10000, 0, 600000),
    metricsToken: str(env, 'HERALD_METRICS_TOKEN'),
    maxBodyBytes: int(env, 'HERALD_MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxRecipients: int(env, 'HERALD_MAX_RECIPIENTS', 1000, 1, 100000),
    maxBatch: int(env, 'HERALD_MAX_BATCH', 500, 1, 10000),
    maxContentBytes: int(env, 'HERALD_MAX_CONTENT_BYTES', 64 * 1024, 1, 16 * 1024 * 1024),
    maxDataBytes: int(env, 'HERALD_MAX_DATA_BYTES', 16 * 1024, 2, 16 * 1024 * 1024),
    publishRatePerMinute: int(env, 'HERALD_PUBLISH_RATE_PER_MINUTE', 6000, 1, 10000000),
    userRatePerMinute: int(env, 'HERALD_USER_RATE_PER_MINUTE', 1200, 1, 10000000),
    maxScheduledPerPublisher: int(env, 'HERALD_MAX_SCHEDULED_PER_PUBLISHER', 100000, 1, 100000000),
    devMode,
    amqpIngestExchange: str(env, 'HERALD_AMQP_INGEST_EXCHANGE') ?? 'herald.ingest',
    amqpIngestQueue: str(env, 'HERALD_AMQP_INGEST_QUEUE') ?? 'herald.ingest',
    amqpDeadLetterQueue: str(env, 'HERALD_AMQP_DLQ') ?? 'herald.ingest.dlq',
    amqpBusExchange: str(env, 'HERALD_AMQP_BUS_EXCHANGE') ?? 'herald.bus',
    amqpPrefetch: int(env, 'HERALD_AMQP_PREFETCH', 64, 1, 10000),
    ...operationsConfig(env),
    ...pushConfig(env),
  });
}

/** Web Push (README.md, "Web Push"): keys, the origins pushes may go to, and the sender's pace. */
function pushConfig(env: Env) {
  const vapidPublicKey = str(env, 'HERALD_VAPID_PUBLIC_KEY');
  const vapidPrivateKey = str(env, 'HERALD_VAPID_PRIVATE_KEY');
  const vapidSubject = str(env, 'HERALD_VAPID_SUBJECT');
  if ((vapidPublicKey === null) !== (vapidPrivateKey === null)) {
    const missing = vapidPublicKey === null ? 'HERALD_VAPID_PUBLIC_KEY' : 'HERALD_VAPID_PRIVATE_KEY';
    throw new ConfigError(`${missing} is not set but its pair is: set both VAPID keys (herald vapid-keys prints a pair) or neither`);
  }
  if (vapidPublicKey !== null && vapidPrivateKey !== null) {
    const problem = vapidPairProblem(vapidPublicKey, vapidPrivateKey);
    if (problem) throw new ConfigError(problem);
    if (vapidSubject === null) throw new ConfigError('HERALD_VAPID_SUBJECT is required with the VAPID keys: a mailto: address or https: URL push services can reach you at');
  }
  if (vapidSubject !== null) {
    const problem = vapidSubjectProblem(vapidSubject);
    if (problem) throw new ConfigError(problem);
  }
  return {
    vapidPublicKey,
    vapidPrivateKey,
    vapidSubject,
    pushAllowedOrigins: Object.freeze(originList(env, 'HERALD_PUSH_ALLOWED_ORIGINS')),
    pushDelayMs: int(env, 'HERALD_PUSH_DELAY_MS', 10000, 0, 24 * 3600 * 1000),
    pushTtlS: int(env, 'HERALD_PUSH_TTL_S', 86400, 0, 28 * 24 * 3600),
    pushConcurrency: int(env, 'HERALD_PUSH_CONCURRENCY', 32, 1, 1000),
    pushTimeoutMs: int(env, 'HERALD_PUSH_TIMEOUT_MS', 10000, 100, 120000),
  };
}

/**
 * Development mode mints a token for anyone who asks the loopback address. Behind a proxy
 * (which makes every request arrive from loopback), on a shared database or broker, or
 * with an allow-list or CORS origins, the node is evidently serving others: refuse to start
 * rather than hand them tokens.
 */
function refuseDevModeBesideProduction(env: Env, databaseUrl: string, amqpUrl: string | null): void {
  const production = ['HERALD_TRUST_PROXY', 'HERALD_ALLOW_IPS', 'HERALD_CORS_ORIGINS'].find((name) => str(env, name) !== null)
    ?? (/^postgres(ql)?:\/\//.test(databaseUrl) ? 'HERALD_DATABASE_URL=postgres://…' : null)
    ?? (amqpUrl !== null ? 'HERALD_AMQP_URL' : null);
  if (production === null) return;
  throw new ConfigError(`development mode (no key configured) cannot run with ${production}: this node serves others, and development mode mints tokens for anyone; set HERALD_JWT_SECRET (or a public key)`);
}

function operationsConfig(env: Env) {
  const knobs = str(env, 'HERALD_TEST_KNOBS');
  if (knobs !== null && !['true', 'false', '1', '0'].includes(knobs)) {
    throw new ConfigError(`HERALD_TEST_KNOBS must be true or false (got "${knobs}")`);
  }
  const heapDefaultMb = Math.floor((getHeapStatistics().heap_size_limit * 0.9) / 1024 / 1024);
  return {
    shedEventLoopDelayMs: int(env, 'HERALD_SHED_EVENT_LOOP_DELAY_MS', 1000, 0, 600000),
    shedHeapUsedMb: int(env, 'HERALD_SHED_HEAP_MB', heapDefaultMb, 0, 1024 * 1024),
    shedRssMb: int(env, 'HERALD_SHED_RSS_MB', 0, 0, 1024 * 1024),
    shedRetryAfterS: int(env, 'HERALD_SHED_RETRY_AFTER_S', 10, 1, 3600),
    retentionDays: int(env, 'HERALD_RETENTION_DAYS', 365, 0, 100000),
    idempotencyTtlHours: int(env, 'HERALD_IDEMPOTENCY_TTL_HOURS', 24, 0, 100000),
    retentionIntervalS: int(env, 'HERALD_RETENTION_INTERVAL_S', 3600, 1, 7 * 24 * 3600),
    retentionBatchSize: int(env, 'HERALD_RETENTION_BATCH_SIZE', 500, 1, 100000),
    testKnobs: knobs === 'true' || knobs === '1',
  };
}

const SECRET_KEYS = new Set(['jwtSecret', 'metricsToken', 'ticketSecret', 'vapidPrivateKey']);

/** The config as printed at start: secrets masked, credentials stripped from URLs. */
export function describeConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key)) out[key] = value ? '***' : null;
    else if (typeof value === 'string' && /^[a-z]+:\/\/[^/]*@/.test(value)) out[key] = value.replace(/\/\/[^/]*@/, '//***@');
    else out[key] = value;
  }
  return out;
}
