// The second security review's attacks, as rows of the hostile-input table: development mode
// by accident, audience, cookie writes from other origins, security headers, body parsing
// before authentication, /metrics, files on disk. (The address-bar token and the page's CSP
// are driven in a real browser: test/browser/security.test.ts.)
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe } from 'node:test';
import { DEV_TOKENS_PER_MINUTE } from '../../src/http/dev-routes.js';
import { CLI, type HeraldProcess } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { hostile } from './table.js';
import { answer, rawExchange } from './wire.js';

export interface SecondPassContext {
  start(env: Record<string, string | undefined>): Promise<HeraldProcess>;
  /** A scratch folder removed after the run. */
  dir: string;
  remember(token: string): string;
  notes: string[];
}

/**
 * Runs `herald serve` with exactly `env` (plus PATH and a scratch database) and answers
 * "exit <code>: <stderr>", or "still running" when it did not refuse to start.
 */
export function startRefusal(dir: string, env: Record<string, string>): Promise<string> {
  const scratch = join(dir, `refusal-${Math.random().toString(36).slice(2)}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'serve'], {
      env: { PATH: process.env.PATH ?? '', HERALD_PORT: '0', HERALD_DATABASE_URL: join(scratch, 'herald.db'), HERALD_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    // A start that is not refused keeps running: stop it and say so.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code === null ? 'still running' : `exit ${code}: ${stderr.trimEnd().split('\n').join(' / ')}`);
    });
  });
}

const octal = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

export function secondPass({ start, dir, remember, notes }: SecondPassContext): void {
  describe('development mode by accident', () => {
    let dev: HeraldProcess;
    let devRate: HeraldProcess;
    before(async () => {
      [dev, devRate] = await Promise.all([
        start({ HERALD_JWT_SECRET: undefined, HERALD_DATABASE_URL: join(dir, 'dev-data', 'herald.db') }),
        start({ HERALD_JWT_SECRET: undefined }),
      ]) as [HeraldProcess, HeraldProcess];
    });
    const blank = (name: string, value: string) =>
      hostile('dev mode', `${name}=${JSON.stringify(value)} (set but blank, as a missing CI secret gives)`,
        `exit 1: herald: ${name} is set but empty: give it a value or unset it`,
        () => startRefusal(dir, { [name]: value, HERALD_HOST: '0.0.0.0' }));
    blank('HERALD_JWT_SECRET', '');
    blank('HERALD_JWT_SECRET', '   ');
    blank('HERALD_JWT_PUBLIC_KEY', '');
    blank('HERALD_JWKS_URL', '');
    blank('HERALD_TICKET_SECRET', '');
    blank('HERALD_METRICS_TOKEN', '');
    hostile('dev mode', 'no key and HERALD_HOST=0.0.0.0',
      'exit 1: herald: HERALD_HOST=0.0.0.0 is not a loopback address, and development mode (no key configured) mints tokens for anyone: set HERALD_JWT_SECRET (or a public key) or listen on 127.0.0.1',
      () => startRefusal(dir, { HERALD_HOST: '0.0.0.0' }));
    hostile('dev mode', 'HERALD_DEV_MODE=true beside a real HERALD_JWT_SECRET',
      'exit 1: herald: HERALD_DEV_MODE=true cannot be combined with HERALD_JWT_SECRET: development tokens would be trusted in production; unset one of them',
      () => startRefusal(dir, { HERALD_DEV_MODE: 'true', HERALD_JWT_SECRET: 's'.repeat(40) }));

    const mintWithHost = async (herald: HeraldProcess, host: string) => {
      const body = '{"user":"bob"}';
      const res = await rawExchange(herald.port,
        `POST /v1/dev/token HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      const code = (/"code":"([a-z_]+)"/.exec(res.body)?.[1]) ?? '';
      const token = /"token":"([^"]+)"/.exec(res.body)?.[1];
      if (token) remember(token);
      return `${res.status}${code ? ` ${code}` : token ? ' token' : ''}`;
    };
    hostile('dev mode', 'control: POST /v1/dev/token with Host 127.0.0.1:<port>', '200 token', () => mintWithHost(dev, `127.0.0.1:${dev.port}`));
    hostile('dev mode', 'control: POST /v1/dev/token with Host localhost:<port>', '200 token', () => mintWithHost(dev, `localhost:${dev.port}`));
    hostile('dev mode', 'POST /v1/dev/token from a DNS-rebinding page (Host attacker.example:<port>)', '403 host_not_allowed',
      () => mintWithHost(dev, `attacker.example:${dev.port}`));
    hostile('dev mode', 'POST /v1/dev/token with Host localhost.attacker.example', '403 host_not_allowed', () => mintWithHost(dev, 'localhost.attacker.example'));
    hostile('dev mode', `${DEV_TOKENS_PER_MINUTE + 1} development tokens in a minute (limit ${DEV_TOKENS_PER_MINUTE})`,
      `${DEV_TOKENS_PER_MINUTE} × 200, then 429 rate_limited`, async () => {
        const statuses: string[] = [];
        for (let i = 0; i <= DEV_TOKENS_PER_MINUTE; i++) {
          const res = await fetch(`${devRate.url}/v1/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"user":"u${i}"}` });
          const text = await res.clone().text();
          const token = /"token":"([^"]+)"/.exec(text)?.[1];
          if (token) remember(token);
          statuses.push(res.status === 200 ? '200' : await answer(res));
        }
        return `${statuses.filter((s) => s === '200').length} × 200, then ${statuses.at(-1)}`;
      });
  });

  describe('audience and issuer with public keys', () => {
    let pemFile = '';
    let jwksFile = '';
    before(() => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      pemFile = join(dir, 'aud-key.pem');
      writeFileSync(pemFile, publicKey.export({ type: 'spki', format: 'pem' }).toString());
      jwksFile = join(dir, 'aud-jwks.json');
      writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'a', alg: 'ES256' }] }));
    });
    hostile('audience', 'HERALD_JWT_PUBLIC_KEY without HERALD_JWT_AUDIENCE',
      'exit 1: herald: HERALD_JWT_AUDIENCE is required with HERALD_JWT_PUBLIC_KEY: set it to the "aud" your identity provider puts in tokens for Herald',
      () => startRefusal(dir, { HERALD_JWT_PUBLIC_KEY: pemFile }));
    hostile('audience', 'HERALD_JWKS_URL without HERALD_JWT_AUDIENCE',
      'exit 1: herald: HERALD_JWT_AUDIENCE is required with HERALD_JWKS_URL: set it to the "aud" your identity provider puts in tokens for Herald',
      () => startRefusal(dir, { HERALD_JWKS_URL: jwksFile, HERALD_JWT_ISSUER: 'https://idp.test' }));
    hostile('audience', 'HERALD_JWKS_URL with an audience but without HERALD_JWT_ISSUER',
      'exit 1: herald: HERALD_JWT_ISSUER is required with HERALD_JWKS_URL: set it to the "iss" of your identity provider',
      () => startRefusal(dir, { HERALD_JWKS_URL: jwksFile, HERALD_JWT_AUDIENCE: 'herald' }));
  });

  describe('cookie-authenticated writes from other origins', () => {
    let h: HeraldProcess;
    let alice = '';
    before(async () => {
      h = await start({ HERALD_CORS_ORIGINS: 'https://app.example.com', HERALD_TICKET_RATE_PER_MINUTE: '1000' });
      alice = remember(await h.token('alice', { scope: 'subscribe' }));
    });
    const readAll = async (headers: Record<string, string>) =>
      answer(await fetch(`${h.url}/v1/notifications/read-all`, { method: 'POST', headers: { cookie: `herald_token=${alice}`, ...headers } }));
    hostile('origin', 'cookie POST read-all (no body) with Origin https://evil.example', '403 origin_not_allowed', () => readAll({ origin: 'https://evil.example' }));
    hostile('origin', 'cookie POST read-all from another port of the same host (Origin http://127.0.0.1:1)', '403 origin_not_allowed', () => readAll({ origin: 'http://127.0.0.1:1' }));
    hostile('origin', 'cookie POST read-all with Sec-Fetch-Site: same-site and a sibling Origin', '403 origin_not_allowed',
      () => readAll({ origin: 'http://sub.127.0.0.1.example', 'sec-fetch-site': 'same-site' }));
    hostile('origin', 'cookie POST read-all with no Origin and no Sec-Fetch-Site', '403 origin_not_allowed', () => readAll({}));
    hostile('origin', 'cookie POST read-all with Origin "null" (sandboxed frame)', '403 origin_not_allowed', () => readAll({ origin: 'null' }));
    hostile('origin', 'cookie PATCH with Origin https://evil.example', '403 origin_not_allowed', async () =>
      answer(await fetch(`${h.url}/v1/notifications/x`, {
        method: 'PATCH', headers: { cookie: `herald_token=${alice}`, origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{"status":"read"}',
      })));
    hostile('origin', 'cookie POST /v1/stream/tickets (spends the ticket quota) with Origin https://evil.example', '403 origin_not_allowed', async () =>
      answer(await fetch(`${h.url}/v1/stream/tickets`, { method: 'POST', headers: { cookie: `herald_token=${alice}`, origin: 'https://evil.example' } })));
    hostile('origin', 'control: cookie POST read-all with this site\'s own Origin', '200', () => readAll({ origin: h.url }));
    hostile('origin', 'control: cookie POST read-all with Sec-Fetch-Site: same-origin', '200', () => readAll({ 'sec-fetch-site': 'same-origin' }));
    hostile('origin', 'cookie POST read-all with Origin from HERALD_CORS_ORIGINS (CORS origins send a Bearer token, never the cookie)', '403 origin_not_allowed',
      () => readAll({ origin: 'https://app.example.com' }));
    hostile('origin', 'control: Bearer POST read-all with Origin https://evil.example (a header no other site can set)', '200', async () =>
      answer(await fetch(`${h.url}/v1/notifications/read-all`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, origin: 'https://evil.example' } })));
    hostile('origin', 'two herald_token cookies (a planted one first) on GET /v1/notifications', '400 duplicate_cookie', async () => {
      const mallory = remember(await h.token('mallory', { scope: 'subscribe' }));
      return answer(await fetch(`${h.url}/v1/notifications`, { headers: { cookie: `herald_token=${mallory}; herald_token=${alice}` } }));
    });
    hostile('origin', 'two herald_token cookies on GET /v1/stream', '400 duplicate_cookie', async () => {
      const mallory = remember(await h.token('mallory', { scope: 'subscribe' }));
      const s = await openStream(h.url, null, { headers: { cookie: `herald_token=${mallory}; herald_token=${alice}` } });
      s.close();
      return `${s.status} ${(s.errorBody as { error?: { code?: string } })?.error?.code ?? ''}`;
    });
  });

  describe('authentication before the body', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({});
    });
    const big = `{"status":"read","pad":"${'x'.repeat(2 * 1024 * 1024)}"}`;
    hostile('auth first', 'unauthenticated PATCH with body "{bad"', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/notifications/x`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{bad' })));
    hostile('auth first', 'unauthenticated PATCH with a 2 MiB body (over the 1 MiB limit: a parse would answer 413)', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/notifications/x`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: big })));
    hostile('auth first', 'unauthenticated POST read-all with a 2 MiB body', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/notifications/read-all`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })));
    hostile('auth first', 'unauthenticated POST /v1/notifications with a text/plain body', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/notifications`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' })));
    hostile('auth first', 'unauthenticated GET /v1/notifications with an unknown query parameter', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/notifications?debug=1`)));
    hostile('auth first', 'POST /v1/session with a 2 MiB body and no Bearer header', '401 invalid_token', async () =>
      answer(await fetch(`${h.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })));
  });

  describe('security headers', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({});
    });
    hostile('headers', 'GET / (the inbox page)', "CSP default-src 'self' + frame-ancestors 'none', nosniff, no-referrer, X-Frame-Options DENY", async () => {
      const res = await fetch(`${h.url}/`);
      await res.text();
      const csp = res.headers.get('content-security-policy') ?? '';
      const parts = [
        csp.split(';').includes("default-src 'self'") && csp.split(';').includes("frame-ancestors 'none'") ? "CSP default-src 'self' + frame-ancestors 'none'" : `CSP "${csp}"`,
        res.headers.get('x-content-type-options') ?? 'no X-Content-Type-Options',
        res.headers.get('referrer-policy') ?? 'no Referrer-Policy',
        `X-Frame-Options ${res.headers.get('x-frame-options')}`,
      ];
      return parts.join(', ');
    });
    hostile('headers', 'GET /v1/notifications (an API answer, and a 401)', 'no-store, nosniff / no-store, nosniff', async () => {
      const token = remember(await h.token('hdr', { scope: 'subscribe' }));
      const ok = await fetch(`${h.url}/v1/notifications`, { headers: { authorization: `Bearer ${token}` } });
      const refused = await fetch(`${h.url}/v1/notifications`);
      await Promise.all([ok.text(), refused.text()]);
      const summary = (res: Response) => `${res.headers.get('cache-control')}, ${res.headers.get('x-content-type-options')}`;
      return `${summary(ok)} / ${summary(refused)}`;
    });
    hostile('headers', 'control: GET /v1/stream keeps its own headers', 'text/event-stream; charset=utf-8, no-cache, no-transform, X-Accel-Buffering no, nosniff', async () => {
      const s = await openStream(h.url, null, { headers: { authorization: `Bearer ${remember(await h.token('hdr', { scope: 'subscribe' }))}` } });
      try {
        await s.waitForEvents('ready', 1);
        return `${s.headers.get('content-type')}, ${s.headers.get('cache-control')}, X-Accel-Buffering ${s.headers.get('x-accel-buffering')}, ${s.headers.get('x-content-type-options')}`;
      } finally { s.close(); }
    });
    hostile('headers', 'GET /app.js.map outside development mode', '404 not_found', async () => answer(await fetch(`${h.url}/app.js.map`)));
  });

  describe('/metrics', () => {
    let local: HeraldProcess;
    let wide: HeraldProcess;
    let wideWithToken: HeraldProcess;
    const metricsToken = 'm'.repeat(40);
    before(async () => {
      [local, wide, wideWithToken] = await Promise.all([
        start({}),
        start({ HERALD_HOST: '0.0.0.0' }),
        start({ HERALD_HOST: '0.0.0.0', HERALD_METRICS_TOKEN: metricsToken }),
      ]) as [HeraldProcess, HeraldProcess, HeraldProcess];
    });
    const scrape = async (herald: HeraldProcess, headers: Record<string, string> = {}) => answer(await fetch(`${herald.url}/metrics`, { headers }));
    hostile('metrics', 'control: GET /metrics from loopback, server on 127.0.0.1, no token configured', '200', () => scrape(local));
    hostile('metrics', 'GET /metrics relayed by a proxy on the same host (X-Forwarded-For), no token configured', '403 metrics_token_required',
      () => scrape(local, { 'x-forwarded-for': '198.51.100.7' }));
    hostile('metrics', 'GET /metrics, server on 0.0.0.0, no token configured', '403 metrics_token_required', () => scrape(wide));
    hostile('metrics', 'GET /metrics without the token, server on 0.0.0.0 with HERALD_METRICS_TOKEN', '401 invalid_token', () => scrape(wideWithToken));
    hostile('metrics', 'control: GET /metrics with the token, server on 0.0.0.0', '200', () => scrape(wideWithToken, { authorization: `Bearer ${metricsToken}` }));
  });

  describe('files on disk', () => {
    hostile('files', 'modes of a new data folder, database and development secret', 'data/ 0700, herald.db 0600, herald-dev-secret 0600', async () => {
      // A development-mode server creates the folder, database and secret from nothing.
      const data = join(dir, 'fresh-data');
      await start({ HERALD_JWT_SECRET: undefined, HERALD_DATABASE_URL: join(data, 'herald.db') });
      return `data/ ${octal(data)}, herald.db ${octal(join(data, 'herald.db'))}, herald-dev-secret ${octal(join(data, 'herald-dev-secret'))}`;
    });
    hostile('files', 'development secret file that is empty', 'exit 1: herald: <dir>/herald-dev-secret is empty: delete it to generate a new development secret', async () => {
      const data = join(dir, 'empty-secret');
      mkdirSync(data, { mode: 0o700 });
      writeFileSync(join(data, 'herald-dev-secret'), '\n', { mode: 0o600 });
      return (await startRefusal(dir, { HERALD_DATABASE_URL: join(data, 'herald.db') })).replace(data, '<dir>');
    });
    hostile('files', 'development secret file readable by others (0644)',
      'exit 1: herald: <dir>/herald-dev-secret is readable by others (mode 0644): chmod 600 it, or delete it to generate a new development secret', async () => {
        const data = join(dir, 'open-secret');
        mkdirSync(data, { mode: 0o700 });
        const file = join(data, 'herald-dev-secret');
        writeFileSync(file, `${'k'.repeat(43)}\n`);
        chmodSync(file, 0o644);
        return (await startRefusal(dir, { HERALD_DATABASE_URL: join(data, 'herald.db') })).replace(data, '<dir>');
      });
  });

  notes.push('Start refusals are run as `herald serve` with exactly the variables shown (plus a scratch database); the answer is its exit code and its one line on stderr.');
}
