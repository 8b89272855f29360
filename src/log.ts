import { pino, type Logger } from 'pino';

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

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'herald' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie',
        'res.headers["set-cookie"]', 'token', 'ticket', 'secret', 'config.jwtSecret', 'config.ticketSecret',
      ],
      censor: REDACTED,
    },
    serializers: {
      req(req: { method?: string; url?: string; ip?: string; id?: string }) {
        return { id: req.id, method: req.method, url: req.url ? redactUrl(req.url) : req.url, ip: req.ip };
      },
      err: pino.stdSerializers.err,
    },
  });
}

export type { Logger };
