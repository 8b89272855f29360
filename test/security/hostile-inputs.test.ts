// A table of hostile inputs against real Herald processes, each with its exact expected
// answer; `npm run docs` writes the table into docs/security.md. Each row sets up what it
// needs (its own streams, publishes and counters), so any one row passes run alone with
// --test-name-pattern and the rows may run in any order.
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';
import { secondPass } from './second-pass.js';
import { thirdPass } from './third-pass.js';
import { declared, hostile, writeSecurityDoc } from './table.js';
import { openStream, type TestStream } from '../helpers/sse-client.js';
import { answer, malformedLines, rawExchange } from './wire.js';

const AUD = 'herald-test';
const ISS = 'https://issuer.test';
const notes: string[] = [];
/** Every token and ticket sent, so the logs can be searched for them at the end. */
const sentSecrets = new Set<string>();
const servers: HeraldProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'herald-sec-'));

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
  // No log line of any server of the run holds any token or ticket sent to any of them.
  const leaks = servers.flatMap((s) => s.logs).filter((line) => [...sentSecrets].some((secret) => line.includes(secret)));
  notes.push(`Log redaction: ${sentSecrets.size} distinct tokens and tickets were sent during the run; ${servers.reduce((n, s) => n + s.logs.length, 0)} log lines were searched for each.`);
  writeSecurityDoc(notes);
  assert.deepEqual(leaks, [], 'log lines holding a token or ticket');
});

async function start(env: Record<string, string | undefined>): Promise<HeraldProcess> {
  const herald = await startHerald({ env });
  servers.push(herald);
  return herald;
}

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { sub: 'mallory', scope: 'subscribe', aud: AUD, iss: ISS, iat: now(), exp: now() + 600, ...over };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

/** An HS* JWT built by hand, so the header and key are whatever the attacker wants. */
function hmacJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
}

async function signJwt(alg: string, key: CryptoKey, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

function remember(token: string): string {
  sentSecrets.add(token);
  return token;
}

/** Asks an authenticated endpoint with `token` as a Bearer token. */
async function probe(herald: HeraldProcess, token: string): Promise<string> {
  remember(token);
  return answer(await fetch(`${herald.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } }));
}

function streamAnswer(stream: TestStream): string {
  if (stream.status !== 200) return `${stream.status} ${(stream.errorBody as { error?: { code?: string } })?.error?.code ?? ''}`.trim();
  return `200 ${stream.events.map((e) => e.event).join('+')}`;
}

const INVALID = '401 invalid_token';

/** The fields of a delivered notification the injection rows look at. */
interface EventJson {
  content?: unknown;
  title?: unknown;
  data?: Record<string, unknown> | null;
}

// ---------------------------------------------------------------------------------------
describe('tokens (HS256 secret, aud and iss configured)', () => {
  let h: HeraldProcess;
  before(async () => {
    h = await start({ HERALD_JWT_AUDIENCE: AUD, HERALD_JWT_ISSUER: ISS, HERALD_JWT_CLOCK_TOLERANCE_S: '30' });
  });
  const hs = (payload: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }) => hmacJwt(header, payload, h.secret);

  hostile('token', 'control: a valid HS256 token', '200', () => probe(h, hs(claims())));
  hostile('token', 'alg "none", no signature', INVALID, () => probe(h, `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`));
  hostile('token', 'alg "NONE" with a valid HS256 signature', INVALID, () => probe(h, hs(claims(), { alg: 'NONE' })));
  hostile('token', 'valid token with its signature stripped', INVALID, () => probe(h, hs(claims()).replace(/\.[^.]+$/, '.')));
  hostile('token', 'payload swapped (sub=admin) under the original signature', INVALID, async () => {
    const [head, , sig] = hs(claims()).split('.');
    return probe(h, `${head}.${b64(claims({ sub: 'admin', scope: 'admin' }))}.${sig}`);
  });
  hostile('token', 'signed with the wrong secret', INVALID, async () => probe(h, hmacJwt({ alg: 'HS256' }, claims(), 'x'.repeat(32))));
  hostile('token', 'HS512 signed with the right secret (alg not pinned)', INVALID, () => probe(h, hmacJwt({ alg: 'HS512' }, claims(), h.secret, 'sha512')));
  hostile('token', 'expired 120 s ago (tolerance 30 s)', INVALID, () => probe(h, hs(claims({ exp: now() - 120 }))));
  hostile('token', 'no exp claim', INVALID, () => probe(h, hs(claims({ exp: undefined }))));
  hostile('token', 'exp as a string "9999999999"', INVALID, () => probe(h, hs(claims({ exp: '9999999999' }))));
  hostile('token', 'nbf 10 minutes in the future', INVALID, () => probe(h, hs(claims({ nbf: now() + 600 }))));
  hostile('token', 'wrong aud', INVALID, () => probe(h, hs(claims({ aud: 'another-service' }))));
  hostile('token', 'no aud', INVALID, () => probe(h, hs(claims({ aud: undefined }))));
  hostile('token', 'wrong iss', INVALID, () => probe(h, hs(claims({ iss: 'https://evil.test' }))));
  hostile('token', 'no sub', INVALID, () => probe(h, hs(claims({ sub: undefined }))));
  hostile('token', 'sub containing LF ("a\\nevent: x")', INVALID, () => probe(h, hs(claims({ sub: 'a\nevent: x' }))));
  hostile('token', 'sub of 300 characters', INVALID, () => probe(h, hs(claims({ sub: 'a'.repeat(300) }))));
  hostile('token', 'unknown critical header ("crit": ["exp2"])', INVALID, () => probe(h, hs(claims(), { alg: 'HS256', crit: ['exp2'], exp2: 1 })));
  hostile('token', 'garbage "not.a.jwt"', INVALID, () => probe(h, 'not.a.jwt'));
  hostile('token', 'garbage: three random base64url parts', INVALID, () => probe(h, `${b64(randomUUID())}.${b64(randomUUID())}.${b64(randomUUID())}`));
  hostile('token', 'header is JSON null', INVALID, () => probe(h, `${b64('null')}.${b64(claims())}.x`));
  hostile('token', 'token of 13000 characters (limit 12288)', INVALID, () => probe(h, hs(claims({ pad: 'x'.repeat(9700) }))));
  hostile('token', '"Authorization: Bearer" with nothing after it', INVALID, async () =>
    answer(await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: 'Bearer ' } })));
  hostile('token', '"Authorization: Basic" credentials', INVALID, async () =>
    answer(await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } })));
  hostile('token', 'no token at all', INVALID, async () => answer(await fetch(`${h.url}/v1/notifications/unread-count`)));
  hostile('scope', 'publish-only token opens a stream', '403 insufficient_scope', async () =>
    streamAnswer(await openStream(h.url, null, { headers: { authorization: `Bearer ${remember(hs(claims({ scope: 'publish' })))}` } })));
  hostile('scope', 'subscribe-only token publishes', '403 insufficient_scope', async () =>
    answer(await fetch(`${h.url}/v1/notifications`, {
      method: 'POST', headers: { authorization: `Bearer ${remember(hs(claims()))}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipients: ['bob'], type: 'alert', content: 'hi' }),
    })));
  hostile('scope', 'scope claim "subscribe admin-ish publish-please" (unknown words)', '403 insufficient_scope', async () =>
    answer(await fetch(`${h.url}/v1/notifications`, {
      method: 'POST', headers: { authorization: `Bearer ${remember(hs(claims({ scope: 'subscribe admin-ish publish-please' })))}`, 'content-type': 'application/json' },
      body: JSON.stringify({ recipients: ['bob'], type: 'alert', content: 'hi' }),
    })));
});

// ---------------------------------------------------------------------------------------
describe('public keys: RS256 PEM inline + ES256 JWKS file', () => {
  let h: HeraldProcess;
  let rsa: CryptoKey;
  let otherRsa: CryptoKey;
  let ec: CryptoKey;
  let rsaPem: string;
  before(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    rsa = pair.privateKey;
    rsaPem = await exportSPKI(pair.publicKey);
    otherRsa = (await generateKeyPair('RS256')).privateKey;
    const ecPair = await generateKeyPair('ES256', { extractable: true });
    ec = ecPair.privateKey;
    const jwksPath = join(dir, 'jwks.json');
    writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...(await exportJWK(ecPair.publicKey)), kid: 'file-1', alg: 'ES256', use: 'sig' }] }));
    h = await start({ HERALD_JWT_SECRET: undefined, HERALD_JWT_PUBLIC_KEY: rsaPem, HERALD_JWKS_URL: jwksPath, HERALD_JWT_AUDIENCE: AUD, HERALD_JWT_ISSUER: ISS });
  });

  hostile('key', 'control: RS256 signed by the configured key', '200', async () => probe(h, await signJwt('RS256', rsa, claims())));
  hostile('key', 'control: ES256 with kid "file-1" from the JWKS file', '200', async () => probe(h, await signJwt('ES256', ec, claims(), { kid: 'file-1' })));
  hostile('key', 'HS256 signed with the RSA public key PEM as the secret', INVALID, async () => probe(h, hmacJwt({ alg: 'HS256' }, claims(), rsaPem)));
  hostile('key', 'RS256 signed by another RSA key', INVALID, async () => probe(h, await signJwt('RS256', otherRsa, claims())));
  hostile('key', 'ES256 with an unknown kid', INVALID, async () => probe(h, await signJwt('ES256', ec, claims(), { kid: 'nope' })));
  hostile('key', 'alg "none" against public keys', INVALID, () => probe(h, `${b64({ alg: 'none' })}.${b64(claims())}.`));
  hostile('key', 'RS256 token with alg rewritten to PS256', INVALID, async () => {
    const [, payload, sig] = (await signJwt('RS256', rsa, claims())).split('.');
    return probe(h, `${b64({ alg: 'PS256' })}.${payload}.${sig}`);
  });
  hostile('key', 'RS256 ID token of the same provider issued to another application (aud "other-app")', INVALID, async () =>
    probe(h, await signJwt('RS256', rsa, claims({ aud: 'other-app' }))));
  hostile('key', 'RS256 token with no aud at all', INVALID, async () => probe(h, await signJwt('RS256', rsa, claims({ aud: undefined }))));
  hostile('key', 'ES256 JWKS token from another issuer', INVALID, async () => probe(h, await signJwt('ES256', ec, claims({ iss: 'https://other-idp.test' }), { kid: 'file-1' })));
});

// ---------------------------------------------------------------------------------------
describe('JWKS URL: rotation by kid, no URL from a token', () => {
  let h: HeraldProcess;
  const keys: JWK[] = [];
  let jwksServer: Server;
  let attackerHits = 0;
  let attacker: Server;
  let attackerUrl = '';
  let k1: CryptoKey;
  let k2: CryptoKey;
  let k2Public: JWK;
  let ed: CryptoKey;
  let attackerKey: CryptoKey;
  let attackerJwk: JWK;

  async function listen(server: Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  before(async () => {
    const p1 = await generateKeyPair('ES256', { extractable: true });
    k1 = p1.privateKey;
    keys.push({ ...(await exportJWK(p1.publicKey)), kid: 'k1', alg: 'ES256' });
    const p2 = await generateKeyPair('RS256', { extractable: true });
    k2 = p2.privateKey;
    k2Public = { ...(await exportJWK(p2.publicKey)), kid: 'k2', alg: 'RS256' };
    const pe = await generateKeyPair('EdDSA', { extractable: true });
    ed = pe.privateKey;
    keys.push({ ...(await exportJWK(pe.publicKey)), kid: 'ed1', alg: 'EdDSA' });
    const pa = await generateKeyPair('ES256', { extractable: true });
    attackerKey = pa.privateKey;
    attackerJwk = { ...(await exportJWK(pa.publicKey)), kid: 'evil', alg: 'ES256' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys }));
    });
    const jwksUrl = await listen(jwksServer);
    attacker = createServer((_req, res) => {
      attackerHits += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [attackerJwk] }));
    });
    attackerUrl = await listen(attacker);
    h = await start({ HERALD_JWT_SECRET: undefined, HERALD_JWKS_URL: `${jwksUrl}/jwks.json`, HERALD_JWKS_COOLDOWN_S: '1', HERALD_JWT_AUDIENCE: AUD, HERALD_JWT_ISSUER: ISS });
  });

  hostile('jwks', 'control: ES256 token with kid k1', '200', async () => probe(h, await signJwt('ES256', k1, claims(), { kid: 'k1' })));
  hostile('jwks', 'control: EdDSA token with kid ed1', '200', async () => probe(h, await signJwt('EdDSA', ed, claims(), { kid: 'ed1' })));
  hostile('jwks', 'kid "evil" with "jku" naming the attacker\'s JWKS', `${INVALID}, attacker fetched 0 times`, async () => {
    const hitsBefore = attackerHits;
    const status = await probe(h, await signJwt('ES256', attackerKey, claims(), { kid: 'evil', jku: `${attackerUrl}/jwks.json` }));
    return `${status}, attacker fetched ${attackerHits - hitsBefore} times`;
  });
  hostile('jwks', '"x5u" naming the attacker', `${INVALID}, attacker fetched 0 times`, async () => {
    const hitsBefore = attackerHits;
    const status = await probe(h, await signJwt('ES256', attackerKey, claims(), { kid: 'evil', x5u: `${attackerUrl}/cert.pem` }));
    return `${status}, attacker fetched ${attackerHits - hitsBefore} times`;
  });
  hostile('jwks', 'attacker key embedded in the header ("jwk")', INVALID, async () =>
    probe(h, await signJwt('ES256', attackerKey, claims(), { kid: 'k1', jwk: attackerJwk })));
  hostile('jwks', 'HS256 token whose secret is the JWKS key\'s "x" (kid k1)', INVALID, async () =>
    probe(h, hmacJwt({ alg: 'HS256', kid: 'k1' }, claims(), String(keys[0]?.x))));
  hostile('jwks', 'rotation: token with new kid k2 before and after the JWKS adds it', `${INVALID} then 200`, async () => {
    const token = await signJwt('RS256', k2, claims(), { kid: 'k2' });
    const beforeRotation = await probe(h, token);
    keys.push(k2Public);
    // An unknown kid refetches the set at most once per cooldown (1 s here).
    const afterRotation = await waitFor(async () => {
      const status = await probe(h, token);
      return status === '200' ? status : null;
    }, 'the rotated key to be accepted', 10_000, 250);
    return `${beforeRotation} then ${afterRotation}`;
  });
});

// ---------------------------------------------------------------------------------------
describe('other users, groups, cursors', () => {
  let h: HeraldProcess;
  let alice: string;
  let bob: string;
  const bobIds: string[] = [];
  let groupId = '';
  let bobCursor = '';
  let aliceStream: TestStream;
  before(async () => {
    h = await start({});
    alice = remember(await h.token('alice', { scope: 'subscribe' }));
    bob = remember(await h.token('bob', { scope: 'subscribe' }));
    for (let i = 0; i < 3; i++) {
      const res = await h.publish({ recipients: ['bob'], type: 'secret', content: `bob private ${i}` });
      bobIds.push(res.body.notifications[0].id);
    }
    const group = await h.publish({ topic: 'group:secret', type: 'secret', content: 'group only' });
    groupId = group.body.notifications[0].id;
    const bobStream = await openStream(h.url, null, { headers: { authorization: `Bearer ${bob}` } });
    await bobStream.waitForEvents('ready', 1);
    bobCursor = bobStream.of('ready')[0]?.id ?? '';
    bobStream.close();
    await h.publish({ recipients: ['alice'], type: 'mine', content: 'alice 1' });
    aliceStream = await openStream(h.url, null, { headers: { authorization: `Bearer ${alice}` } });
    await aliceStream.waitForEvents('ready', 1);
    cleanups.push(() => aliceStream.close());
  });

  const patch = (id: string, token: string) => fetch(`${h.url}/v1/notifications/${encodeURIComponent(id)}`, {
    method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'read' }),
  });
  const foreign = (items: ({ content?: unknown } | undefined)[]) => items.filter((n) => /bob|group/.test(String(n?.content))).length;

  hostile('other user', "PATCH bob's notification id with alice's token", '404 not_found', async () => answer(await patch(bobIds[0] ?? '', alice)));
  hostile('other user', "read-all up_to bob's notification id", '404 not_found', async () =>
    answer(await fetch(`${h.url}/v1/notifications/read-all`, {
      method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ up_to: bobIds[1] }),
    })));
  hostile('other user', "bob's unread count after alice PATCHes and read-alls his notifications", '404 not_found / 404 not_found, bob still has 3 unread', async () => {
    const attempts = [
      await answer(await patch(bobIds[2] ?? '', alice)),
      await answer(await fetch(`${h.url}/v1/notifications/read-all`, {
        method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' }, body: JSON.stringify({ up_to: bobIds[2] }),
      })),
    ];
    const count = (await (await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${bob}` } })).json()) as { unread_count: number };
    return `${attempts.join(' / ')}, bob still has ${count.unread_count} unread`;
  });
  hostile('other user', "alice lists her inbox with bob's page cursor", '200, 0 foreign items', async () => {
    const page = await (await fetch(`${h.url}/v1/notifications?limit=1`, { headers: { authorization: `Bearer ${bob}` } })).json() as { next_cursor: string };
    const res = await fetch(`${h.url}/v1/notifications?cursor=${encodeURIComponent(page.next_cursor)}`, { headers: { authorization: `Bearer ${alice}` } });
    const body = await res.json() as { items: { content: string }[] };
    return `${res.status}, ${foreign(body.items)} foreign items`;
  });
  hostile('other user', "alice resumes her stream with bob's cursor", '200 ready+reset, 0 foreign events', async () => {
    const s = await openStream(h.url, null, { headers: { authorization: `Bearer ${alice}`, 'last-event-id': bobCursor } });
    try {
      await s.waitForEvents('ready', 1);
      // Prove the replay finished: a live event for alice arrives after it.
      await h.publish({ recipients: ['alice'], type: 'mine', content: 'alice marker' });
      await waitFor(() => s.of('notification').find((e) => e.data?.content === 'alice marker'), 'marker');
      return `${streamAnswer({ ...s, events: s.events.filter((e) => e.event !== 'notification') } as TestStream)}, ${foreign(s.of('notification').map((e) => e.data))} foreign events`;
    } finally { s.close(); }
  });
  hostile('group', 'group:secret notification PATCHed by a token without that group', '404 not_found', async () => answer(await patch(groupId, alice)));
  hostile('group', 'inbox of a token without the group', '200, 0 foreign items', async () => {
    const res = await fetch(`${h.url}/v1/notifications?status=all&limit=100`, { headers: { authorization: `Bearer ${alice}` } });
    return `${res.status}, ${foreign(((await res.json()) as { items: { content: string }[] }).items)} foreign items`;
  });
  // A cursor naming a group the token does not grant is not this reader's: it is reset.
  hostile('group', 'cursor naming group "secret" from a token without it (replay)', '200 ready+reset, 0 group events', async () => {
    const carol = remember(await h.token('carol', { scope: 'subscribe' }));
    const epoch = (aliceStream.of('ready')[0]?.id ?? '').split('.')[0];
    const s = await openStream(h.url, null, { headers: { authorization: `Bearer ${carol}`, 'last-event-id': `${epoch}.0.0.secret:0` } });
    try {
      await s.waitForEvents('ready', 1);
      await h.publish({ recipients: ['carol'], type: 'mine', content: 'carol marker' });
      await waitFor(() => s.of('notification').find((e) => e.data?.content === 'carol marker'), 'marker');
      const others = s.events.filter((e) => e.event !== 'notification').map((e) => e.event).join('+');
      return `200 ${others}, ${s.of('notification').filter((e) => e.data?.content === 'group only').length} group events`;
    } finally { s.close(); }
  });
  hostile('group', 'groups claim ["secret\\n", "*", "../secret"] (not names)', '200, 0 foreign items', async () => {
    const token = remember(await h.token('dave', { scope: 'subscribe', groups: ['secret\n', '*', '../secret'] }));
    const res = await fetch(`${h.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } });
    return `${res.status}, ${foreign(((await res.json()) as { items: { content: string }[] }).items)} foreign items`;
  });
  hostile('group', 'control: a token with groups ["secret"] sees it live and in the inbox', '1 live, 1 in inbox', async () => {
    const token = remember(await h.token('erin', { scope: 'subscribe', groups: ['secret'] }));
    const s = await openStream(h.url, null, { headers: { authorization: `Bearer ${token}` } });
    try {
      await s.waitForEvents('ready', 1);
      await h.publish({ topic: 'group:secret', type: 'secret', content: 'group only' });
      await s.waitForEvents('notification', 1);
      const inbox = await (await fetch(`${h.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } })).json() as { items: { id: string }[] };
      return `${s.of('notification').length} live, ${inbox.items.filter((i) => i.id === groupId).length} in inbox`;
    } finally { s.close(); }
  });

  const cursorCase = (label: string, send: () => Promise<TestStream>) =>
    hostile('cursor', label, '200 ready+reset', async () => {
      const s = await send();
      try {
        if (s.status === 200) await s.waitForEvents('reset', 1);
        return streamAnswer(s);
      } finally { s.close(); }
    });
  const viaHeader = (value: string) => () => openStream(h.url, null, { headers: { authorization: `Bearer ${alice}`, 'last-event-id': value } });
  const viaQuery = (encoded: string) => () => openStream(h.url, null, { path: `/v1/stream?last_event_id=${encoded}`, headers: { authorization: `Bearer ${alice}` } });
  const epochOf = () => (aliceStream.of('ready')[0]?.id ?? '').split('.')[0];
  cursorCase('negative sequence "<epoch>.-1.0"', () => viaHeader(`${epochOf()}.-1.0`)());
  cursorCase('huge sequence "<epoch>.99999999999999999999.0"', () => viaHeader(`${epochOf()}.99999999999999999999.0`)());
  cursorCase('sequence above the head "<epoch>.999999.0"', () => viaHeader(`${epochOf()}.999999.0`)());
  cursorCase('unknown epoch "zzz.1.1"', viaHeader('zzz.1.1'));
  cursorCase('NUL bytes in last_event_id (query %00)', viaQuery('abc%00.1%00.0'));
  cursorCase('CRLF + "event: x" in last_event_id (query)', viaQuery('x%0D%0Aevent%3A%20injected%0D%0A%0D%0Adata%3A%20x'));
  cursorCase('not UTF-8 in last_event_id (query %FF%FE%C0)', viaQuery('%FF%FE%C0.1.0'));
  cursorCase('4096 characters of "9"', viaHeader('9'.repeat(4096)));
  cursorCase('8000 characters (over the cursor bound)', viaHeader('a.'.repeat(4000)));
  cursorCase('JSON instead of a cursor', viaHeader('{"seq":1}'));
  hostile('cursor', 'not UTF-8 bytes in the Last-Event-ID header (raw socket)', '200 ready+reset', async () => {
    const head = Buffer.concat([
      Buffer.from(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice}\r\nLast-Event-ID: `),
      Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
      Buffer.from('\r\n\r\n'),
    ]);
    const res = await rawExchange(h.port, head, (t) => t.includes('event: reset'));
    const events = [...res.body.matchAll(/^event: (.+)$/gm)].map((m) => m[1]).join('+');
    return `${res.status} ${events}`;
  });
});

// ---------------------------------------------------------------------------------------
describe('CR/LF/NUL in every publisher-controlled field', () => {
  let h: HeraldProcess;
  let stream: TestStream;
  before(async () => {
    h = await start({});
    stream = await openStream(h.url, null, { headers: { authorization: `Bearer ${remember(await h.token('victim', { scope: 'subscribe' }))}` } });
    await stream.waitForEvents('ready', 1);
    cleanups.push(() => stream.close());
  });
  const breaks: [string, string][] = [['CR', 'a\rb'], ['LF', 'a\nb'], ['CRLF', 'a\r\nevent: injected\r\n\r\ndata: b'], ['NUL', 'a\0b']];
  // Every body a publisher may send with a line break or NUL in it (the whole-stream row
  // publishes them all again to its own reader).
  const accepted: Record<string, unknown>[] = [];
  const delivered = (field: string, body: Record<string, unknown>, check: (n: EventJson) => unknown) => {
    accepted.push(body);
    return async () => {
      const res = await h.publish({ recipients: ['victim'], type: 'alert', content: 'c', ...body });
      if (res.status !== 202) return `${res.status} ${res.body?.error?.code}`;
      const id = res.body.notifications[0].id as string;
      // Found by its id, so the row does not depend on which rows published before it.
      const mine = () => stream.of('notification').filter((e) => e.data?.id === id);
      const [event] = await waitFor(() => (mine().length > 0 ? mine() : null), `notification ${id} on the stream`);
      return `202, delivered as one event, ${event && check(event.data as EventJson) ? `${field} intact` : `${field} changed`}`;
    };
  };
  for (const [name, value] of breaks) {
    hostile('injection', `${name} in content`, '202, delivered as one event, content intact',
      delivered('content', { content: value }, (n) => n.content === value));
    hostile('injection', `${name} in title`, '202, delivered as one event, title intact',
      delivered('title', { title: value }, (n) => n.title === value));
    hostile('injection', `${name} in a data value`, '202, delivered as one event, data intact',
      delivered('data', { data: { v: value } }, (n) => n.data?.v === value));
    hostile('injection', `${name} in a data key`, '202, delivered as one event, data intact',
      delivered('data', { data: { [value]: 1 } }, (n) => n.data?.[value] === 1));
    hostile('injection', `${name} in type`, '400 invalid_request', async () => {
      const res = await h.publish({ recipients: ['victim'], type: `alert${value}`, content: 'c' });
      return `${res.status} ${res.body?.error?.code}`;
    });
    hostile('injection', `${name} in a recipient`, '400 invalid_request', async () => {
      const res = await h.publish({ recipients: [`victim${value}`], type: 'alert', content: 'c' });
      return `${res.status} ${res.body?.error?.code}`;
    });
    hostile('injection', `${name} in topic ("group:${value}")`, '400 invalid_request', async () => {
      const res = await h.publish({ topic: `group:ops${value}`, type: 'alert', content: 'c' });
      return `${res.status} ${res.body?.error?.code}`;
    });
  }
  hostile('injection', 'U+2028/U+2029, lone surrogate and BOM in content', '202, delivered as one event, content intact',
    delivered('content', { content: '\u2028x\u2029\ufeff\ud800' }, (n) => n.content === '\u2028x\u2029\ufeff\ufffd' || n.content === '\u2028x\u2029\ufeff\ud800'));
  const withKey = { content: 'k', idempotency_key: 'k\r\nevent: x\0' };
  accepted.push(withKey);
  hostile('injection', 'CR/LF/NUL in idempotency_key (never echoed)', '202', async () => {
    const res = await h.publish({ recipients: ['victim'], type: 'alert', ...withKey });
    return String(res.status);
  });
  hostile('injection', 'one stream receiving every body above', 'well-formed: 0 foreign lines, exact event count, no injected events', async () => {
    // Its own reader and publishes: the row holds whichever rows ran before it.
    const witness = await openStream(h.url, remember(await h.token('witness', { scope: 'subscribe' })));
    try {
      await witness.waitForEvents('ready', 1);
      let published = 0;
      for (const body of accepted) {
        // A key of its own: the row above used this key for another body (a 409 here).
        const key = typeof body.idempotency_key === 'string' ? { idempotency_key: `${body.idempotency_key} witness` } : {};
        if ((await h.publish({ recipients: ['witness'], type: 'alert', content: 'c', ...body, ...key })).status === 202) published += 1;
      }
      // A last plain notification: everything published before it has been written once it arrives.
      await h.publish({ recipients: ['witness'], type: 'alert', content: 'last' });
      await waitFor(() => witness.of('notification').some((e) => e.data?.content === 'last'), 'the last notification');
      const bad = malformedLines(witness.wire());
      const names = new Set(witness.events.map((e) => e.event));
      const injected = [...names].filter((n) => !['ready', 'notification'].includes(n));
      const count = witness.of('notification').length - 1;
      return `well-formed: ${bad.length} foreign lines, ${count === accepted.length && published === count ? 'exact event count' : `${count} events for ${published} accepted of ${accepted.length} publishes`}, ${injected.length ? `injected ${injected.join(',')}` : 'no injected events'}`;
    } finally { witness.close(); }
  });
});

// ---------------------------------------------------------------------------------------
describe('bodies, URLs, headers, publish rate', () => {
  let h: HeraldProcess;
  let pub: string;
  let ratePub: string;
  before(async () => {
    h = await start({ HERALD_PUBLISH_RATE_PER_MINUTE: '40' });
    pub = remember(await h.token('pub', { scope: 'publish' }));
    ratePub = remember(await h.token('rate-pub', { scope: 'publish' }));
  });
  const post = async (body: string, contentType = 'application/json', token = pub) =>
    answer(await fetch(`${h.url}/v1/notifications`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body }));
  const json = (value: unknown) => post(JSON.stringify(value));
  const ok = { recipients: ['bob'], type: 'alert', content: 'hi' };

  hostile('body', 'body of 1 MiB + 1 byte', '413 payload_too_large', () => post(JSON.stringify({ ...ok, content: 'x'.repeat(1024 * 1024) })));
  hostile('body', 'malformed JSON', '400 invalid_request', () => post('{"recipients": ["bob"], "type": '));
  hostile('body', 'empty body', '400 invalid_request', () => post(''));
  hostile('body', 'JSON array instead of an object', '400 invalid_request', () => json([ok]));
  hostile('body', 'text/plain body', '415 unsupported_media_type', () => post(JSON.stringify(ok), 'text/plain'));
  hostile('body', '1001 recipients (limit 1000)', '400 invalid_request', () => json({ ...ok, recipients: Array.from({ length: 1001 }, (_, i) => `u${i}`) }));
  hostile('body', 'content of 64 KiB + 1 byte', '413 payload_too_large', () => json({ ...ok, content: 'x'.repeat(64 * 1024 + 1) }));
  hostile('body', 'data of 16 KiB + 1 byte as JSON', '413 payload_too_large', () => json({ ...ok, data: { v: 'x'.repeat(16 * 1024) } }));
  hostile('body', 'data as an array', '400 invalid_request', () => json({ ...ok, data: [1, 2] }));
  hostile('body', 'data nested 100 000 levels deep', '400 invalid_request', () => post(`{"recipients":["bob"],"type":"alert","content":"x","data":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`));
  hostile('body', '"__proto__" key (prototype poisoning)', '400 invalid_request', () => post('{"recipients":["bob"],"type":"alert","content":"x","data":{"__proto__":{"admin":true}}}'));
  hostile('body', '"publisher" set by the caller', '400 invalid_request', () => json({ ...ok, publisher: 'someone-else' }));
  hostile('body', 'recipients and topic together', '400 invalid_request', () => json({ ...ok, topic: 'broadcast' }));
  hostile('body', 'topic "user:bob" (private topics only via recipients)', '400 invalid_request', () => json({ type: 'alert', content: 'x', topic: 'user:bob' }));
  hostile('body', 'idempotency_key of 256 characters', '400 invalid_request', () => json({ ...ok, idempotency_key: 'k'.repeat(256) }));
  hostile('body', 'unknown field', '400 invalid_request', () => json({ ...ok, admin: true }));
  hostile('body', 'unknown query parameter on the stream', '400 invalid_request', async () =>
    streamAnswer(await openStream(h.url, null, { path: `/v1/stream?access_token=${remember(await h.token('bob', { scope: 'subscribe' }))}&debug=1` })));
  hostile('url', 'URL of 9000 bytes (limit 8192)', '414 uri_too_long', async () => answer(await fetch(`${h.url}/v1/notifications?x=${'a'.repeat(9000)}`)));
  hostile('header', 'request head of 20 KiB (limit 16 KiB)', '431 header_too_large', async () => {
    const res = await rawExchange(h.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    return `${res.status} ${JSON.parse(res.body).error.code}`;
  });
  hostile('header', 'CR inside a header value (raw socket)', '400 invalid_request', async () => {
    const res = await rawExchange(h.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\rb\r\n\r\n');
    return `${res.status} ${JSON.parse(res.body).error.code}`;
  });
  hostile('header', 'NUL inside the Last-Event-ID header (raw socket)', '400 invalid_request', async () => {
    const res = await rawExchange(h.port, 'GET /v1/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: a\0b\r\n\r\n');
    return `${res.status} ${JSON.parse(res.body).error.code}`;
  });
  hostile('rate', '41 publishes in a minute from one token (limit 40)', '40 × 202, then 429 rate_limited', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 41; i++) statuses.push(await post(JSON.stringify({ ...ok, content: `n${i}` }), 'application/json', ratePub));
    const accepted = statuses.filter((s) => s === '202').length;
    return `${accepted} × 202, then ${statuses[40]}`;
  });
  hostile('rate', 'while one publisher is rate limited, another is not', '429 rate_limited, then 202 for another', async () => {
    const limited = remember(await h.token('rate-pub-2', { scope: 'publish' }));
    let last = '';
    for (let i = 0; i <= 40 && !last.startsWith('429'); i++) last = await post(JSON.stringify({ ...ok, content: `m${i}` }), 'application/json', limited);
    const other = remember(await h.token('rate-other', { scope: 'publish' }));
    return `${last}, then ${await post(JSON.stringify({ ...ok, content: 'other' }), 'application/json', other)} for another`;
  });
});

// ---------------------------------------------------------------------------------------
describe('tickets and the session cookie', () => {
  let h: HeraldProcess;
  let h2: HeraldProcess;
  let alice: string;
  const ticketKey = () => createHmac('sha256', h.secret).update('herald stream ticket key v1').digest();
  before(async () => {
    h = await start({});
    // A second node sharing the secret (and so the ticket key), on its own database.
    h2 = await start({ HERALD_JWT_SECRET: h.secret });
    alice = remember(await h.token('alice', { scope: 'subscribe' }));
  });
  async function ticket(token = alice, herald = h): Promise<{ status: string; ticket: string; expires_in?: number }> {
    const res = await fetch(`${herald.url}/v1/stream/tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const body = await res.clone().json().catch(() => ({})) as { ticket?: string; expires_in?: number };
    if (body.ticket) remember(body.ticket);
    return { status: await answer(res), ticket: body.ticket ?? '', expires_in: body.expires_in };
  }
  async function useTicket(t: string, herald = h): Promise<string> {
    const s = await openStream(herald.url, null, { path: `/v1/stream?ticket=${encodeURIComponent(t)}` });
    try {
      if (s.status === 200) await s.waitForEvents('ready', 1);
      return streamAnswer(s);
    } finally { s.close(); }
  }

  hostile('ticket', 'control: mint a ticket and open a stream with it', '200, expires_in 30, 200 ready', async () => {
    const t = await ticket();
    return `${t.status}, expires_in ${t.expires_in}, ${await useTicket(t.ticket)}`;
  });
  hostile('ticket', 'control: a ticket for a 256-character sub with 20 groups', '200, 200 ready', async () => {
    const token = remember(await h.token('s'.repeat(256), { scope: 'subscribe', groups: Array.from({ length: 20 }, (_, i) => `group-number-${i}`) }));
    const t = await ticket(token);
    return `${t.status}, ${await useTicket(t.ticket)}`;
  });
  hostile('ticket', 'the same ticket used a second time', '200 ready then 401 invalid_token', async () => {
    const t = await ticket();
    return `${await useTicket(t.ticket)} then ${await useTicket(t.ticket)}`;
  });
  hostile('ticket', 'a ticket minted on node 1 used on node 2 (shared secret)', '200 ready', async () => useTicket((await ticket()).ticket, h2));
  hostile('ticket', 'expired ticket (signed with the real ticket key)', INVALID, async () => {
    const forged = remember(await new SignJWT({ scope: 'subscribe', texp: now() + 600 }).setProtectedHeader({ alg: 'HS256', typ: 'herald-ticket+jwt' })
      .setSubject('alice').setAudience('herald:stream-ticket').setJti(randomUUID()).setIssuedAt(now() - 100).setExpirationTime(now() - 60).sign(ticketKey()));
    return useTicket(forged);
  });
  hostile('ticket', 'ticket forged with the JWT secret instead of the ticket key', INVALID, async () =>
    useTicket(remember(hmacJwt({ alg: 'HS256', typ: 'herald-ticket+jwt' }, { sub: 'alice', aud: 'herald:stream-ticket', jti: randomUUID(), exp: now() + 30, texp: now() + 600 }, h.secret))));
  hostile('ticket', 'an access token passed as ?ticket=', INVALID, async () => useTicket(alice));
  hostile('ticket', 'a ticket used as an access token (Bearer)', INVALID, async () => probe(h, (await ticket()).ticket));
  hostile('ticket', 'a ticket with its sub changed', INVALID, async () => {
    const [head, payload, sig] = (await ticket()).ticket.split('.');
    const claimsIn = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    return useTicket(remember(`${head}.${b64({ ...claimsIn, sub: 'bob' })}.${sig}`));
  });
  hostile('ticket', 'minting a ticket without a token', INVALID, async () => (await ticket('')).status);
  hostile('ticket', 'minting a ticket with a publish-only token', '403 insufficient_scope', async () =>
    (await ticket(remember(await h.token('alice', { scope: 'publish' })))).status);
  hostile('cookie', 'POST /v1/session with the token only in the query string', INVALID, async () =>
    answer(await fetch(`${h.url}/v1/session?access_token=${alice}`, { method: 'POST' })));
  hostile('cookie', 'POST /v1/session with the token only in a cookie (no header)', INVALID, async () =>
    answer(await fetch(`${h.url}/v1/session`, { method: 'POST', headers: { cookie: `herald_token=${alice}` } })));
  hostile('cookie', 'control: POST /v1/session sets an HttpOnly SameSite=Strict cookie that opens a stream', 'HttpOnly, SameSite=Strict, Path=/v1; 200 ready', async () => {
    const res = await fetch(`${h.url}/v1/session`, { method: 'POST', headers: { authorization: `Bearer ${alice}` } });
    const cookie = res.headers.get('set-cookie') ?? '';
    const attrs = ['HttpOnly', 'SameSite=Strict', 'Path=/v1'].filter((a) => cookie.includes(a)).join(', ');
    const s = await openStream(h.url, null, { headers: { cookie: cookie.split(';')[0] ?? '' } });
    try {
      if (s.status === 200) await s.waitForEvents('ready', 1);
      return `${attrs}; ${streamAnswer(s)}`;
    } finally { s.close(); }
  });
  hostile('cookie', 'herald_token cookie with a tampered token', INVALID, async () =>
    answer(await fetch(`${h.url}/v1/notifications`, { headers: { cookie: `herald_token=${alice.slice(0, -3)}abc` } })));
  hostile('cookie', 'DELETE /v1/session clears the cookie', '204, Max-Age=0', async () => {
    const res = await fetch(`${h.url}/v1/session`, { method: 'DELETE' });
    return `${res.status}, ${/herald_token=;.*Max-Age=0/.test(res.headers.get('set-cookie') ?? '') ? 'Max-Age=0' : 'not cleared'}`;
  });
});

// ---------------------------------------------------------------------------------------
describe('network: IP allow-list, X-Forwarded-For, CORS', () => {
  let deny: HeraldProcess;
  let proxied: HeraldProcess;
  let cors: HeraldProcess;
  before(async () => {
    [deny, proxied, cors] = await Promise.all([
      start({ HERALD_ALLOW_IPS: '10.0.0.0/8' }),
      start({ HERALD_ALLOW_IPS: '10.0.0.0/8', HERALD_TRUST_PROXY: '127.0.0.1/32' }),
      start({ HERALD_CORS_ORIGINS: 'https://app.example.com' }),
    ]) as [HeraldProcess, HeraldProcess, HeraldProcess];
  });
  const get = async (h: HeraldProcess, path: string, headers: Record<string, string> = {}) => answer(await fetch(`${h.url}${path}`, { headers }));

  hostile('ip', 'peer 127.0.0.1 forges X-Forwarded-For: 10.0.0.1 (allow 10.0.0.0/8, no trusted proxy)', '403 ip_not_allowed', () =>
    get(deny, '/v1/notifications', { 'x-forwarded-for': '10.0.0.1' }));
  hostile('ip', 'disallowed peer asks /v1/stream with a valid token', '403 ip_not_allowed', async () =>
    get(deny, '/v1/stream', { authorization: `Bearer ${remember(await deny.token('alice'))}` }));
  hostile('ip', 'disallowed peer spells the path /V1/stream', '403 ip_not_allowed', () => get(deny, '/V1/stream'));
  hostile('ip', 'disallowed peer asks /healthz and /readyz (open for orchestrators)', '200 / 200', async () =>
    `${await get(deny, '/healthz')} / ${await get(deny, '/readyz')}`);
  hostile('ip', 'trusted proxy forwards client 10.1.2.3', INVALID, () => get(proxied, '/v1/notifications', { 'x-forwarded-for': '10.1.2.3' }));
  hostile('ip', 'trusted proxy forwards "10.1.2.3, 198.51.100.7" (client spoofed the left entry)', '403 ip_not_allowed', () =>
    get(proxied, '/v1/notifications', { 'x-forwarded-for': '10.1.2.3, 198.51.100.7' }));
  hostile('ip', 'trusted proxy without X-Forwarded-For', '403 ip_not_allowed', () => get(proxied, '/v1/notifications'));

  const preflight = (origin: string) => fetch(`${cors.url}/v1/stream`, {
    method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id, authorization' },
  });
  const corsAnswer = (res: Response) => {
    const acao = res.headers.get('access-control-allow-origin');
    return acao === null ? `${res.status}, no Access-Control-Allow-Origin` : `${res.status}, ACAO ${acao}`;
  };
  for (const origin of ['https://evil.example', 'null', 'https://app.example.com.evil.net', 'http://app.example.com']) {
    hostile('cors', `preflight from origin "${origin}"`, '403, no Access-Control-Allow-Origin', async () => corsAnswer(await preflight(origin)));
  }
  hostile('cors', 'GET with credentials from origin "https://evil.example"', '401, no Access-Control-Allow-Origin', async () =>
    corsAnswer(await fetch(`${cors.url}/v1/notifications`, { headers: { origin: 'https://evil.example', cookie: 'herald_token=x' } })));
  hostile('cors', 'control: preflight from the configured origin asking for Last-Event-ID',
    '204, ACAO https://app.example.com, credentials null, Vary Origin, last-event-id allowed', async () => {
      const res = await preflight('https://app.example.com');
      const vary = (res.headers.get('vary') ?? '').toLowerCase().includes('origin') ? 'Vary Origin' : 'no Vary';
      const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().includes('last-event-id') ? 'last-event-id allowed' : 'last-event-id refused';
      return `${corsAnswer(res)}, credentials ${res.headers.get('access-control-allow-credentials')}, ${vary}, ${allowed}`;
    });
});

// ---------------------------------------------------------------------------------------
describe('connection floods', () => {
  let h: HeraldProcess;
  let noProxy: HeraldProcess;
  before(async () => {
    [h, noProxy] = await Promise.all([
      start({ HERALD_TRUST_PROXY: '127.0.0.1/32', HERALD_MAX_CONNECTIONS_PER_USER: '2', HERALD_MAX_CONNECTIONS_PER_IP: '3', HERALD_MAX_CONNECTIONS: '5' }),
      start({ HERALD_MAX_CONNECTIONS_PER_IP: '2' }),
    ]) as [HeraldProcess, HeraldProcess];
  });
  type Attempt = [user: string, forwardedFor?: string];
  async function connect1(herald: HeraldProcess, [user, ip]: Attempt, open: TestStream[]): Promise<string> {
    const s = await openStream(herald.url, remember(await herald.token(user, { scope: 'subscribe' })), { headers: ip ? { 'x-forwarded-for': ip } : {} });
    if (s.status === 200) {
      open.push(s);
      await s.waitForEvents('ready', 1);
      return '200';
    }
    const retry = s.headers.get('retry-after');
    return `${s.status} ${(s.errorBody as { error: { code: string } }).error.code}${retry ? `, Retry-After ${retry}` : ' (no Retry-After)'}`;
  }
  /**
   * Opens the row's streams one after another and answers each attempt; closes them all at
   * the end and waits for the node to count none, so every row starts from an empty node.
   */
  async function flood(herald: HeraldProcess, attempts: Attempt[], then?: (open: TestStream[]) => Promise<string>): Promise<string> {
    const open: TestStream[] = [];
    try {
      const answers: string[] = [];
      for (const attempt of attempts) answers.push(await connect1(herald, attempt, open));
      if (then) answers.push(await then(open));
      return answers.join(', ');
    } finally {
      for (const s of open) s.close();
      await waitFor(async () => (await herald.connections()) === 0, 'the row\'s streams to close');
    }
  }
  const TOO_MANY = '429 too_many_connections, Retry-After 5';
  hostile('flood', 'third stream of one user (limit 2 per user)', `200, 200, ${TOO_MANY}`, () =>
    flood(h, [['u1', '10.0.0.1'], ['u1', '10.0.0.2'], ['u1', '10.0.0.3']]));
  hostile('flood', 'fourth stream from one client IP (limit 3 per IP)', `200, 200, 200, ${TOO_MANY}`, () =>
    flood(h, [['u2', '10.0.0.1'], ['u3', '10.0.0.1'], ['u4', '10.0.0.1'], ['u5', '10.0.0.1']]));
  hostile('flood', 'left-spoofed X-Forwarded-For "1.2.3.4, 10.0.0.1" to dodge the per-IP limit', `200, 200, 200, ${TOO_MANY}`, () =>
    flood(h, [['u2', '10.0.0.1'], ['u3', '10.0.0.1'], ['u4', '10.0.0.1'], ['u5', '1.2.3.4, 10.0.0.1']]));
  hostile('flood', 'sixth stream on the node (limit 5 in total)', '200, 200, 200, 200, 200, 503 overloaded, Retry-After 5', () =>
    flood(h, [['u1', '10.0.0.1'], ['u2', '10.0.0.2'], ['u3', '10.0.0.3'], ['u4', '10.0.0.4'], ['u5', '10.0.0.5'], ['u6', '10.0.0.6']]));
  hostile('flood', 'untrusted peer rotates X-Forwarded-For to dodge the per-IP limit (limit 2)', `200, 200, ${TOO_MANY}`, () =>
    flood(noProxy, [['a', '10.9.0.1'], ['b', '10.9.0.2'], ['c', '10.9.0.3']]));
  hostile('flood', 'closing a stream of a full node frees its slot', '200, 200, 200, 200, 200, then 200', () =>
    flood(h, [['u1', '10.0.0.1'], ['u2', '10.0.0.2'], ['u3', '10.0.0.3'], ['u4', '10.0.0.4'], ['u5', '10.0.0.5']], async (open) => {
      open.shift()?.close();
      await waitFor(async () => (await h.connections()) < 5, 'a slot to free');
      return `then ${await connect1(h, ['u6', '10.0.0.6'], open)}`;
    }));
});

// ---------------------------------------------------------------------------------------
describe('lifetime and slow readers', () => {
  let h: HeraldProcess;
  let aged: HeraldProcess;
  let slow: HeraldProcess;
  let unbounded: HeraldProcess;
  before(async () => {
    [h, aged, slow, unbounded] = await Promise.all([
      start({ HERALD_HEARTBEAT_MS: '500' }),
      start({ HERALD_MAX_STREAM_AGE_MS: '1500', HERALD_HEARTBEAT_MS: '500' }),
      start({ HERALD_STREAM_BUFFER_BYTES: String(256 * 1024) }),
      start({ HERALD_STREAM_BUFFER_BYTES: String(1024 * 1024 * 1024) }),
    ]) as [HeraldProcess, HeraldProcess, HeraldProcess, HeraldProcess];
  });

  // A real process cannot be given a fake clock, so these rows check only what load cannot
  // change: the stream is not closed before its time, and it is closed (the wait's timeout
  // bounds how late). The exact timing is tested in-process with a fake clock (test/core).
  hostile('lifetime', 'token expiring 3 s after the stream opens', 'auth-expired, then closed, not before exp', async () => {
    const token = remember(await h.token('short', { scope: 'subscribe', ttlS: 3 }));
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { exp: number };
    const s = await openStream(h.url, token);
    await s.waitForEvents('auth-expired', 1, 10_000);
    await s.ended;
    const early = exp * 1000 - Date.now();
    return `${s.events.at(-1)?.event}, then closed, ${early <= 0 ? 'not before exp' : `${early} ms before exp`}`;
  });
  hostile('lifetime', 'stream held past HERALD_MAX_STREAM_AGE_MS=1500 (jittered 90–100 %)', 'closed, not before 1350 ms, with a retry: hint', async () => {
    const opened = Date.now();
    const s = await openStream(aged.url, null, { headers: { authorization: `Bearer ${remember(await aged.token('long', { scope: 'subscribe' }))}` } });
    await s.waitForEvents('ready', 1);
    await s.ended;
    const age = Date.now() - opened;
    // The last thing written is a jittered reconnect hint (after the first `retry:` line).
    const hint = (s.wire().match(/^retry: \d+$/gm) ?? []).length >= 2 ? 'with a retry: hint' : 'without a retry: hint';
    return `closed, ${age >= 1350 ? 'not before 1350 ms' : `after only ${age} ms`}, ${hint}`;
  });

  /**
   * Opens a stream whose client stops reading after `ready`, publishes `count` notifications
   * of 64 KiB to it, and samples the server's resident memory throughout.
   */
  async function pourIntoSlowReader(herald: HeraldProcess, count: number): Promise<{ baseline: number; peak: number; volume: number; cutAfter: number }> {
    const metrics = async () => (await fetch(`${herald.url}/metrics`)).text();
    const rss = async () => Number(/^herald_process_resident_memory_bytes (\S+)/m.exec(await metrics())?.[1] ?? 0);
    const cuts = async () => Number(/^herald_stream_closed_total\{reason="slow_consumer"\} (\d+)/m.exec(await metrics())?.[1] ?? 0);
    const token = remember(await herald.token('sloth', { scope: 'subscribe' }));
    const socket = connect(herald.port, '127.0.0.1');
    cleanups.push(() => { socket.destroy(); });
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        seen += chunk.toString('latin1');
        // From `ready` on, this client never reads again.
        if (seen.includes('event: ready')) { socket.pause(); resolve(); }
      });
      socket.once('close', () => reject(new Error('closed before ready')));
      socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    });
    const baseline = await rss();
    let peak = baseline;
    const content = 'x'.repeat(64 * 1024 - 100);
    const publishToken = await herald.token('pump', { scope: 'publish' });
    let cutAfter = 0;
    const sampler = setInterval(() => { void rss().then((v) => { peak = Math.max(peak, v); }, () => {}); }, 50);
    try {
      for (let published = 0; published < count; published += 8) {
        await Promise.all(Array.from({ length: 8 }, () => herald.publish({ recipients: ['sloth'], type: 'bulk', content }, publishToken)));
        if (cutAfter === 0 && (await cuts()) >= 1) cutAfter = published + 8;
      }
    } finally { clearInterval(sampler); }
    peak = Math.max(peak, await rss());
    socket.destroy();
    return { baseline, peak, volume: count * content.length, cutAfter };
  }

  hostile('slow reader', 'client never reads while 50 MiB of notifications pour in (buffer bound 256 KiB)', 'cut as slow_consumer, server memory bounded', async () => {
    const count = 800;
    const bounded = await pourIntoSlowReader(slow, count);
    const control = await pourIntoSlowReader(unbounded, count);
    const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
    const growth = bounded.peak - bounded.baseline;
    const controlGrowth = control.peak - control.baseline;
    notes.push(`Slow reader: ${count} notifications of 64 KiB (${mib(bounded.volume)} MiB) were published to a client that never read. ` +
      `With HERALD_STREAM_BUFFER_BYTES=256 KiB the server cut it as slow_consumer after ${bounded.cutAfter} of them (the first few MiB sit in the kernel's socket buffers, not the process) ` +
      `and its resident memory grew ${mib(growth)} MiB at peak (${mib(bounded.baseline)} → ${mib(bounded.peak)} MiB; this includes parsing and storing the published requests). ` +
      `Control, same load with the bound set to 1 GiB: +${mib(controlGrowth)} MiB (${mib(control.baseline)} → ${mib(control.peak)} MiB), ${control.cutAfter ? 'cut' : 'never cut'}.`);
    const ok = bounded.cutAfter > 0 && growth < 64 * 1024 * 1024 && growth < controlGrowth;
    return `${bounded.cutAfter > 0 ? 'cut as slow_consumer' : 'never cut'}, server memory ${ok ? 'bounded' : `grew ${mib(growth)} MiB (control ${mib(controlGrowth)} MiB)`}`;
  });
});

// ---------------------------------------------------------------------------------------
describe('logs', () => {
  hostile('logs', 'tokens and tickets sent in headers, query strings (also as access%5Ftoken) and cookies', '0 log lines contain one', async () => {
    // Its own server and secrets, so the row holds alone; the whole run is checked at the end.
    const h = await start({});
    const mine = [remember(await h.token('logcheck', { scope: 'subscribe' }))];
    const ticketRes = await fetch(`${h.url}/v1/stream/tickets`, { method: 'POST', headers: { authorization: `Bearer ${mine[0]}` } });
    mine.push(remember(((await ticketRes.json()) as { ticket: string }).ticket));
    for (const token of mine) {
      for (const path of [`/v1/notifications?access_token=${token}`, `/v1/notifications?access%5Ftoken=${token}`, `/v1/stream?ticket=${token}`, `/v1/nope?token=${token}`]) {
        // Only the request matters, not the answer (a valid ticket opens a stream that never ends).
        await (await fetch(`${h.url}${path}`, { headers: { cookie: `herald_token=${token}`, authorization: `Bearer ${token}` } })).body?.cancel();
      }
    }
    await waitFor(() => h.logs.filter((l) => l.includes('/v1/nope')).length >= mine.length, 'the request log lines');
    return `${h.logs.filter((line) => mine.some((secret) => line.includes(secret))).length} log lines contain one`;
  });
});

secondPass({ start, dir, remember, notes });
thirdPass({ start, dir, remember, notes });

// Keeps the table honest: at least 40 hostile inputs (counted as declared, so a run of one
// row with --test-name-pattern holds too).
after(() => {
  assert.ok(declared.length >= 40, `only ${declared.length} cases declared`);
});
