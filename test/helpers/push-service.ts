// A stand-in push service, as Herald sees one: an HTTP server that takes pushes the way FCM,
// Mozilla's or Apple's do (RFC 8030). It checks each request's VAPID authorization as a real
// service does (RFC 8292: an ES256 JWT signed by the key in `k`, `aud` its own origin, `exp`
// within 24 hours, a `sub`), decrypts the aes128gcm body (RFC 8291) with the private key of
// the subscription it made, and answers 201 unless a test told it otherwise (404, 410, 413,
// 429 with Retry-After, 500, …). Herald reaches it through HERALD_PUSH_ALLOWED_ORIGINS.
import { createECDH, randomBytes, randomUUID, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decrypt } from 'http_ece';
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { waitFor } from './wait.js';

/** What a browser's `PushSubscription.toJSON()` gives. */
export interface SubscriptionJson {
  endpoint: string;
  expirationTime: number | null;
  keys: { p256dh: string; auth: string };
}

export interface ReceivedPush {
  subscription: string;
  /** The decrypted plaintext, parsed as JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  payload: any;
  ttl: number;
  urgency: string | undefined;
  topic: string | undefined;
  /** The VAPID key (`k`) and claims it was signed with. */
  vapidKey: string;
  claims: { aud: string; exp: number; sub: string };
  /** When it arrived (Date.now()). */
  at: number;
  /** What the stand-in answered. */
  status: number;
}

export interface Answer {
  status: number;
  /** Sent as Retry-After (seconds). */
  retryAfterS?: number;
}

export interface StandInPushService {
  url: string;
  origin: string;
  /** A new browser subscription at this service (its keys kept here to decrypt what comes). */
  subscribe(): SubscriptionJson;
  /** Every request that passed authorization and decryption, answered or not 201. */
  readonly received: ReceivedPush[];
  /** Requests refused before decryption (bad authorization, unknown subscription), with why. */
  readonly refused: string[];
  /** The next requests to a subscription get these answers, in order; then 201 again. */
  answer(endpoint: string, ...answers: Answer[]): void;
  /** Holds each answer this long (ms): makes concurrent sends overlap, to count them. */
  holdMs: number;
  /** Most requests it was answering at once. */
  readonly maxInFlight: number;
  /** Pushes taken (201) for an endpoint. */
  accepted(endpoint?: string): ReceivedPush[];
  /** Waits until `count` pushes were taken (201), in all or for one endpoint. */
  waitForAccepted(count: number, endpoint?: string, timeoutMs?: number): Promise<ReceivedPush[]>;
  close(): Promise<void>;
}

const VAPID = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/;
const DAY_S = 24 * 3600;

export async function startPushService(): Promise<StandInPushService> {
  const keys = new Map<string, { ecdh: ECDH; auth: Buffer }>();
  const scripts = new Map<string, Answer[]>();
  const received: ReceivedPush[] = [];
  const refused: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let origin = '';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const refuse = (status: number, why: string) => {
      refused.push(why);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(why);
    };
    const id = /^\/push\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    const key = id === undefined ? undefined : keys.get(id);
    if (req.method !== 'POST' || id === undefined || !key) return refuse(404, `no subscription at ${req.method} ${req.url}`);
    const auth = VAPID.exec(req.headers.authorization ?? '');
    if (!auth) return refuse(401, `authorization is not "vapid t=…, k=…": ${req.headers.authorization}`);
    const [, token, k] = auth as unknown as [string, string, string];
    const point = Buffer.from(k, 'base64url');
    let claims: ReceivedPush['claims'];
    try {
      const publicKey = await importJWK({ kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') }, 'ES256');
      await jwtVerify(token, publicKey, { algorithms: ['ES256'], audience: origin });
      claims = decodeJwt(token) as ReceivedPush['claims'];
    } catch (err) {
      return refuse(403, `VAPID token refused: ${(err as Error).message}`);
    }
    const nowS = Date.now() / 1000;
    if (!(claims.exp > nowS && claims.exp <= nowS + DAY_S)) return refuse(403, `exp ${claims.exp} is not within 24 h`);
    if (!/^(mailto:|https:)/.test(claims.sub ?? '')) return refuse(403, `sub ${claims.sub} is not mailto: or https:`);
    if (req.headers['content-encoding'] !== 'aes128gcm') return refuse(415, `content-encoding ${req.headers['content-encoding']}`);
    const ttl = Number(req.headers.ttl);
    if (req.headers.ttl === undefined || !Number.isInteger(ttl) || ttl < 0) return refuse(400, `TTL header ${req.headers.ttl}`);
    let payload: unknown;
    try {
      payload = JSON.parse(decrypt(Buffer.concat(chunks), { version: 'aes128gcm', privateKey: key.ecdh, authSecret: key.auth }).toString('utf8'));
    } catch (err) {
      return refuse(400, `could not decrypt: ${(err as Error).message}`);
    }
    const answer = scripts.get(id)?.shift() ?? { status: 201 };
    received.push({
      subscription: id, payload, ttl, urgency: req.headers.urgency as string | undefined, topic: req.headers.topic as string | undefined,
      vapidKey: k, claims, at: Date.now(), status: answer.status,
    });
    if (service.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, service.holdMs));
    res.writeHead(answer.status, answer.retryAfterS === undefined ? {} : { 'retry-after': String(answer.retryAfterS) }).end();
  }

  const server: Server = createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  const idOf = (endpoint: string) => endpoint.slice(endpoint.lastIndexOf('/') + 1);

  const service: StandInPushService = {
    url: origin,
    origin,
    received,
    refused,
    holdMs: 0,
    get maxInFlight() {
      return maxInFlight;
    },
    subscribe() {
      const id = randomUUID();
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      keys.set(id, { ecdh, auth });
      return { endpoint: `${origin}/push/${id}`, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
    },
    answer(endpoint, ...answers) {
      scripts.set(idOf(endpoint), [...(scripts.get(idOf(endpoint)) ?? []), ...answers]);
    },
    accepted(endpoint) {
      return received.filter((r) => r.status === 201 && (endpoint === undefined || r.subscription === idOf(endpoint)));
    },
    async waitForAccepted(count, endpoint, timeoutMs = 20_000) {
      return waitFor(() => {
        const got = service.accepted(endpoint);
        return got.length >= count ? got : null;
      }, `${count} pushes at the stand-in push service (has ${service.accepted(endpoint).length}; refused: ${refused.slice(-3).join(' | ')})`, timeoutMs);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return service;
}
