// Herald's own HTTP client for push services (web-push's sender speaks https only and
// cannot be told where it may go): every request passes the origin guard first, never
// follows a redirect, and gives up after a timeout that covers connecting and the answer.
import http from 'node:http';
import https from 'node:https';
import { endpointRefusal } from './push-origins.js';

export interface PushRequest {
  endpoint: string;
  headers: Record<string, string | number>;
  body: Buffer | null;
}

export interface PushAnswer {
  status: number;
  /** The push service's Retry-After, ms from now; null when it gave none (or none that parses). */
  retryAfterMs: number | null;
}

/** The endpoint failed the origin guard: no request was made. */
export class EndpointRefused extends Error {}

export interface PushClientOptions {
  timeoutMs: number;
  /** Connections kept per push service host (the sender's concurrency). */
  maxSockets: number;
  allowedOrigins: readonly string[];
  /** When Retry-After dates are read against (default: this machine's clock). */
  now?: () => number;
}

/** Bytes of an answer's body read (and dropped): push services answer a few hundred. */
const MAX_ANSWER_BYTES = 64 * 1024;

export class PushClient {
  readonly #options: PushClientOptions;
  readonly #agents: { http: http.Agent; https: https.Agent };

  constructor(options: PushClientOptions) {
    this.#options = options;
    const agent = { keepAlive: true, maxSockets: options.maxSockets, timeout: options.timeoutMs };
    this.#agents = { http: new http.Agent(agent), https: new https.Agent(agent) };
  }

  /** POSTs one push; rejects with EndpointRefused before any request, or with the network's error. */
  send(request: PushRequest): Promise<PushAnswer> {
    const refusal = endpointRefusal(request.endpoint, this.#options.allowedOrigins);
    if (refusal !== null) return Promise.reject(new EndpointRefused(refusal));
    const url = new URL(request.endpoint);
    const secure = url.protocol === 'https:';
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    return new Promise<PushAnswer>((resolve, reject) => {
      const req = (secure ? https : http).request(url, {
        method: 'POST', headers: request.headers, agent: secure ? this.#agents.https : this.#agents.http, signal,
      }, (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const answer = { status: res.statusCode ?? 0, retryAfterMs: parseRetryAfter(res.headers['retry-after'], (this.#options.now ?? Date.now)()) };
        res.on('end', () => resolve(answer));
        // A body cut short still leaves the status, which is all the sender needs.
        res.on('close', () => resolve(answer));
        res.on('error', () => resolve(answer));
      });
      req.on('error', reject);
      req.end(request.body ?? undefined);
    });
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null;
  return Math.max(0, at - now);
}
