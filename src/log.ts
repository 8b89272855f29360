import { pino, type Logger } from 'pino';

// Tokens travel in headers, cookies and query strings; none of them may reach a log line.
const TOKEN_QUERY = /([?&](?:access_token|ticket|token)=)[^&#\s]*/gi;

export function redactUrl(url: string): string {
  return url.replace(TOKEN_QUERY, '$1[REDACTED]');
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'herald' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'headers.cookie', 'token', 'secret'],
      censor: '[REDACTED]',
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
