import { hostname } from 'node:os';
import { ecsFormat } from '@elastic/ecs-pino-format';
import { pino, type DestinationStream, type Logger } from 'pino';

// Tokens travel in headers, cookies and query strings; none of them may reach a log line.
// Query parameter names are compared after percent-decoding (`access%5Ftoken` is
// `access_token` to the query parser), and anything shaped like a JWT is masked wherever
// it appears, as a second line of defence.
const SENSITIVE_PARAM = /token|ticket|secret|password|passwd|api[_-]?key|auth|session|signature|jwt|code/i;
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,4}/g;
const REDACTED = '[REDACTED]';

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

export function redactUrl(url: string): string {
  const hash = url.indexOf('#');
  const withoutHash = hash === -1 ? url : url.slice(0, hash);
  const q = withoutHash.indexOf('?');
  let out = withoutHash;
  if (q !== -1) {
    const query = withoutHash.slice(q + 1).split('&').map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      return SENSITIVE_PARAM.test(decodeName(name)) ? `${name}=${REDACTED}` : pair;
    });
    out = `${withoutHash.slice(0, q)}?${query.join('&')}`;
  }
  return out.replace(JWT_LIKE, REDACTED);
}

/**
 * Moves request and response details to their Elastic Common Schema fields, so Kibana
 * reads every line without an ingest pipeline. Pino runs this before any serializer, so
 * it sees Fastify's request and reply objects: it copies only what is safe (the URL
 * redacted, never a header but the user agent).
 */
function toEcs(obj: Record<string, unknown>): Record<string, unknown> {
  const { req, res, responseTime, ...rest } = obj as {
    req?: { id?: string; method?: string; url?: string; ip?: string; headers?: Record<string, unknown> };
    res?: { statusCode?: number };
    responseTime?: number;
  } & Record<string, unknown>;
  // ECS defines `url` and `user` as objects: plain strings there would clash in Elasticsearch.
  if (typeof rest.url === 'string') rest.url = { full: redactUrl(rest.url) };
  if (typeof rest.user === 'string') rest.user = { name: rest.user };
  const http: { request?: Record<string, unknown>; response?: Record<string, unknown> } = {};
  if (req && typeof req === 'object') {
    http.request = { id: req.id, method: req.method };
    if (typeof req.url === 'string') {
      const url = redactUrl(req.url);
      const q = url.indexOf('?');
      rest.url = q === -1 ? { original: url, path: url } : { original: url, path: url.slice(0, q), query: url.slice(q + 1) };
    }
    if (typeof req.ip === 'string') rest.client = { ip: req.ip, address: req.ip };
    const agent = req.headers?.['user-agent'];
    if (typeof agent === 'string') rest.user_agent = { original: redactUrl(agent) };
  }
  if (res && typeof res === 'object') http.response = { status_code: res.statusCode };
  if (http.request || http.response) rest.http = http;
  // ECS durations are nanoseconds; Fastify measures milliseconds.
  if (typeof responseTime === 'number') rest.event = { duration: Math.round(responseTime * 1e6) };
  return rest;
}

/**
 * JSON lines in Elastic Common Schema (`@timestamp`, `log.level`, `message`, `ecs.version`,
 * `http.*`, `url.*`, `error.*`). Request-scoped lines carry the request id as
 * `transaction.id` (Fastify's requestIdLogLabel, set in app.ts).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const ecs = ecsFormat({ serviceName: 'herald', apmIntegration: false, convertErr: true, convertReqRes: false });
  const ecsLog = ecs.formatters?.log ?? ((o: Record<string, unknown>) => o);
  return pino({
    ...ecs,
    level,
    base: { pid: process.pid, hostname: hostname() },
    formatters: { ...ecs.formatters, log: (obj: Record<string, unknown>) => ecsLog(toEcs(obj)) },
    redact: {
      paths: ['token', 'ticket', 'secret', 'config.jwtSecret', 'config.ticketSecret', 'headers.authorization', 'headers.cookie'],
      censor: REDACTED,
    },
  }, destination ?? (stdout ??= gatheredStdout()));
}

/** Every logger of the process writes to one (created on first use). */
let stdout: ReturnType<typeof gatheredStdout> | undefined;

/** Lines wait at most this long (ms) for others to share their write. */
const GATHER_MS = 50;
/** Bytes gathered that are written at once, without waiting. */
const GATHER_BYTES = 8192;

/**
 * Standard output, written asynchronously and a batch of lines at a time: at most one write
 * per GATHER_MS or per GATHER_BYTES. One write per line (a hand-off to libuv's thread pool
 * each) was a tenth of what a publish cost the event loop. What is gathered is written when
 * the process exits, a crash included (an uncaught exception still emits 'exit'); only a
 * SIGKILL or a native crash loses the last GATHER_MS of lines.
 */
function gatheredStdout(): DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  // minLength 0: SonicBoom writes what it is given at once, or right after the write in flight.
  const out = pino.destination({ dest: 1, sync: false });
  let pending: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | null = null;
  const hand = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pending.length === 0) return;
    const lines = pending.join('');
    pending = [];
    bytes = 0;
    out.write(lines);
  };
  process.once('exit', () => {
    hand();
    out.flushSync();
  });
  return {
    write(line: string) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= GATHER_BYTES) hand();
      else if (timer === null) {
        timer = setTimeout(hand, GATHER_MS);
        timer.unref();
      }
    },
    flush(cb?: (err?: Error) => void) {
      hand();
      out.flush(cb);
    },
  };
}

export type { Logger };
