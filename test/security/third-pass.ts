// The third security review's attacks, as rows of the hostile-input table: development mode
// behind the shipped nginx, tokens in URLs and in nginx's logs, the same-site guard behind
// nginx, CORS on error answers, and the CLI. Where the finding is about nginx, the attack
// goes through a real nginx built from deploy/nginx/herald.conf.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { startNginx, type NginxProcess } from '../helpers/cluster.js';
import { CLI, type HeraldProcess } from '../helpers/herald.js';
import { seedBroadcasts, slowestHealthzDuring } from '../helpers/load.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';
import type { SecondPassContext } from './second-pass.js';
import { startRefusal } from './second-pass.js';
import { hostile } from './table.js';
import { answer, rawExchange } from './wire.js';

export function thirdPass({ start, dir, remember }: SecondPassContext): void {
  describe('development mode behind a proxy', () => {
    let dev: HeraldProcess;
    let nginx: NginxProcess;
    before(async () => {
      dev = await start({ HERALD_JWT_SECRET: undefined });
      nginx = await startNginx([dev.port]);
    });
    after(() => nginx?.stop());
    const refusedBeside = (name: string, value: string, shown = name) =>
      hostile('dev mode', `no key beside ${name}=${value}`,
        `exit 1: herald: development mode (no key configured) cannot run with ${shown}: this node serves others, and development mode mints tokens for anyone; set HERALD_JWT_SECRET (or a public key)`,
        () => startRefusal(dir, { [name]: value }));
    refusedBeside('HERALD_TRUST_PROXY', '127.0.0.1');
    refusedBeside('HERALD_ALLOW_IPS', '10.0.0.0/8');
    refusedBeside('HERALD_CORS_ORIGINS', 'https://app.example.com');
    refusedBeside('HERALD_DATABASE_URL', 'postgres://herald@127.0.0.1:1/herald', 'HERALD_DATABASE_URL=postgres://…');
    refusedBeside('HERALD_AMQP_URL', 'amqp://127.0.0.1:1');

    const mint = async (port: number, headers: string) => {
      const body = '{"user":"alice"}';
      const res = await rawExchange(port,
        `POST /v1/dev/token HTTP/1.1\r\n${headers}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      const token = /"token":"([^"]+)"/.exec(res.body)?.[1];
      if (token) remember(token);
      const code = /"code":"([a-z_]+)"/.exec(res.body)?.[1];
      if (res.status === 0) return 'connection closed, no answer';
      return token ? `${res.status} token` : `${res.status}${code ? ` ${code}` : ''}`;
    };
    hostile('dev mode', 'POST /v1/dev/token relayed by a proxy on this machine (X-Forwarded-For, Host localhost)', '403 host_not_allowed',
      () => mint(dev.port, 'Host: localhost\r\nX-Forwarded-For: 203.0.113.9\r\n'));
    hostile('dev mode', 'POST /v1/dev/token relayed with Forwarded: for=203.0.113.9', '403 host_not_allowed',
      () => mint(dev.port, 'Host: localhost\r\nForwarded: for=203.0.113.9\r\n'));
    hostile('dev mode', 'through the shipped nginx: POST /v1/dev/token with Host: localhost', '404',
      () => mint(nginx.port, 'Host: localhost\r\n'));
    hostile('dev mode', 'through the shipped nginx: any request for an unknown Host (attacker.example)', 'connection closed, no answer',
      () => mint(nginx.port, 'Host: attacker.example\r\n'));
  });

  describe('tokens in URLs', () => {
    let h: HeraldProcess;
    let nginx: NginxProcess;
    before(async () => {
      h = await start({});
      nginx = await startNginx([h.port]);
    });
    after(() => nginx?.stop());
    const get = async (path: string) => answer(await fetch(`${h.url}${path}`));
    const token = async () => remember(await h.token('alice'));
    hostile('token in URL', 'GET /v1/notifications?access_token=<valid token> (only the stream takes one)', '401 invalid_token',
      async () => get(`/v1/notifications?access_token=${await token()}`));
    hostile('token in URL', 'GET /v1/notifications?access%5Ftoken=<valid token>', '401 invalid_token',
      async () => get(`/v1/notifications?access%5Ftoken=${await token()}`));
    hostile('token in URL', 'POST /v1/notifications/read-all?access_token=<valid token>', '401 invalid_token',
      async () => answer(await fetch(`${h.url}/v1/notifications/read-all?access_token=${await token()}`, { method: 'POST' })));
    hostile('token in URL', 'control: GET /v1/stream?access_token=<valid token>', '200 ready', async () => {
      const stream = await openStream(h.url, null, { query: `access_token=${await token()}` });
      await stream.waitForEvents('ready', 1);
      stream.close();
      return `${stream.status} ready`;
    });
    const loggedThroughNginx = (spelling: string) =>
      hostile('token in URL', `through the shipped nginx: /v1/stream?${spelling}=<valid token> in nginx's access log`, 'redacted', async () => {
        const secret = await token();
        const marker = `m${Math.random().toString(36).slice(2)}`;
        const res = await fetch(`${nginx.url}/v1/stream?${spelling}=${secret}&last_event_id=${marker}`, { signal: AbortSignal.timeout(2000) }).catch(() => null);
        await res?.body?.cancel().catch(() => {});
        await waitFor(() => nginx.accessLog().includes(marker), 'the access line', 10_000);
        const line = nginx.accessLog().split('\n').find((l) => l.includes(marker)) ?? '';
        return line.includes(secret) ? `token in the log: ${line.slice(0, 120)}` : 'redacted';
      });
    loggedThroughNginx('access_token');
    loggedThroughNginx('access%5Ftoken');
    loggedThroughNginx('%61ccess_token');
    loggedThroughNginx('ACCESS%5fTOKEN');
    loggedThroughNginx('tick%65t');
  });

  describe('same-site guard behind nginx', () => {
    let h: HeraldProcess;
    let pub: HeraldProcess;
    let nginx: NginxProcess;
    before(async () => {
      [h, pub] = await Promise.all([start({}), start({ HERALD_PUBLIC_URL: 'https://herald.example' })]) as [HeraldProcess, HeraldProcess];
      nginx = await startNginx([h.port]);
    });
    after(() => nginx?.stop());
    const readAll = async (base: string, token: string, headers: Record<string, string>) =>
      answer(await fetch(`${base}/v1/notifications/read-all`, {
        method: 'POST', headers: { cookie: `herald_token=${remember(token)}`, 'content-type': 'application/json', ...headers }, body: '{}',
      }));
    hostile('same-site', 'through nginx: cookie POST read-all from another port of the same host (Origin http://127.0.0.1, Sec-Fetch-Site: same-site)',
      '403 origin_not_allowed', async () => readAll(nginx.url, await h.token('alice'), { origin: 'http://127.0.0.1', 'sec-fetch-site': 'same-site' }));
    hostile('same-site', 'through nginx: the same from a browser without Fetch Metadata (Origin http://127.0.0.1 only)',
      '403 origin_not_allowed', async () => readAll(nginx.url, await h.token('alice'), { origin: 'http://127.0.0.1' }));
    hostile('same-site', 'Sec-Fetch-Site: cross-site with an Origin equal to Host', '403 origin_not_allowed',
      async () => readAll(h.url, await h.token('alice'), { origin: h.url, 'sec-fetch-site': 'cross-site' }));
    hostile('same-site', 'control: through nginx, cookie POST read-all from Herald\'s own page (Sec-Fetch-Site: same-origin)', '200',
      async () => readAll(nginx.url, await h.token('alice'), { origin: nginx.url, 'sec-fetch-site': 'same-origin' }));
    hostile('same-site', 'control: through nginx, Origin equal to nginx\'s origin, no Fetch Metadata', '200',
      async () => readAll(nginx.url, await h.token('alice'), { origin: nginx.url }));
    hostile('same-site', 'HERALD_PUBLIC_URL=https://herald.example: Origin equal to Host but not the public origin', '403 origin_not_allowed',
      async () => readAll(pub.url, await pub.token('alice'), { origin: pub.url }));
    hostile('same-site', 'control: HERALD_PUBLIC_URL=https://herald.example: Origin https://herald.example', '200',
      async () => readAll(pub.url, await pub.token('alice'), { origin: 'https://herald.example' }));
  });

  describe('CORS on every answer', () => {
    let cors: HeraldProcess;
    let plain: HeraldProcess;
    before(async () => {
      [cors, plain] = await Promise.all([start({ HERALD_CORS_ORIGINS: 'https://app.example.com' }), start({})]) as [HeraldProcess, HeraldProcess];
    });
    const fromApp = { origin: 'https://app.example.com' };
    const withAcao = async (res: Response) => `${await answer(res)}, ACAO ${res.headers.get('access-control-allow-origin') ?? 'none'}`;
    hostile('cors', 'GET /v1/notifications from the listed origin with no token: the page must read the 401', '401 invalid_token, ACAO https://app.example.com',
      async () => withAcao(await fetch(`${cors.url}/v1/notifications`, { headers: fromApp })));
    hostile('cors', 'GET /v1/stream from the listed origin with a token that does not verify', '401 invalid_token, ACAO https://app.example.com',
      async () => withAcao(await fetch(`${cors.url}/v1/stream`, { headers: { ...fromApp, authorization: 'Bearer not.a.jwt' } })));
    hostile('cors', 'cookie POST read-all from the listed origin (Sec-Fetch-Site: cross-site)', '403 origin_not_allowed, ACAO https://app.example.com',
      async () => withAcao(await fetch(`${cors.url}/v1/notifications/read-all`, {
        method: 'POST', body: '{}',
        headers: { ...fromApp, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json', cookie: `herald_token=${remember(await cors.token('alice'))}` },
      })));
    hostile('cors', 'preflight from an origin missing from HERALD_CORS_ORIGINS names the fix, and is logged once', '403 origin_not_allowed: The origin https://new-app.example.com is not in HERALD_CORS_ORIGINS: add it there to let its pages call Herald. (1 log line)',
      async () => {
        const ask = () => fetch(`${cors.url}/v1/notifications`, { method: 'OPTIONS', headers: { origin: 'https://new-app.example.com', 'access-control-request-method': 'GET' } });
        await (await ask()).body?.cancel();
        const res = await ask();
        const { error } = await res.json() as { error: { code: string; message: string } };
        await waitFor(() => cors.logs.some((l) => l.includes('HERALD_CORS_ORIGINS') && l.includes('new-app.example.com')), 'the warning');
        const lines = cors.logs.filter((l) => l.includes('tried to call Herald across origins') && l.includes('new-app.example.com')).length;
        return `${res.status} ${error.code}: ${error.message} (${lines} log line${lines === 1 ? '' : 's'})`;
      });
    hostile('cors', 'preflight to a node without HERALD_CORS_ORIGINS (was a bare 404)', '403 origin_not_allowed', async () =>
      answer(await fetch(`${plain.url}/v1/notifications`, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } })));
    hostile('cors', 'control: Bearer GET /v1/notifications from the listed origin', '200, ACAO https://app.example.com, no credentials', async () => {
      const res = await fetch(`${cors.url}/v1/notifications`, { headers: { ...fromApp, authorization: `Bearer ${remember(await cors.token('alice'))}` } });
      return `${await withAcao(res)}, ${res.headers.get('access-control-allow-credentials') === null ? 'no credentials' : 'credentials allowed'}`;
    });
  });

  describe('slow requests', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({ HERALD_REQUEST_TIMEOUT_MS: '2000', HERALD_HEARTBEAT_MS: '1000' });
    });
    /** Sends the head, then one body byte every 250 ms; says when the server closed the connection. */
    const trickle = (head: string, bytes: number) => new Promise<string>((resolve) => {
      const socket = connect(h.port, '127.0.0.1');
      let sent = 0;
      let answer = '';
      const timer = setInterval(() => {
        if (sent < bytes) socket.write('x');
        sent++;
        if (sent > 60) { clearInterval(timer); socket.destroy(); resolve(`still open after ${sent} bytes in 15 s`); }
      }, 250);
      socket.on('data', (chunk) => { answer += chunk.toString('latin1'); });
      socket.on('close', () => {
        clearInterval(timer);
        const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]).join('+');
        resolve(sent < bytes ? `closed after ${statuses || 'no answer'}, before the body was complete` : `closed after the whole body (${statuses})`);
      });
      socket.on('error', () => {});
      socket.write(head);
    });
    hostile('slow', 'a 1000-byte body sent a byte every 250 ms, no token (HERALD_REQUEST_TIMEOUT_MS=2000)', 'closed after 401, before the body was complete',
      () => trickle('POST /v1/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n', 1000));
    hostile('slow', 'a request head sent a byte every 250 ms', 'closed after 408, before the body was complete',
      () => trickle('GET /v1/notifications HTTP/1.1\r\nX-Slow: ', 1000));
    hostile('slow', 'control: a stream outlives HERALD_REQUEST_TIMEOUT_MS (2000): open after 5 heartbeats of 1 s', 'open', async () => {
      const stream = await openStream(h.url, await h.token('alice'));
      await waitFor(() => stream.comments.length >= 5 || stream.isEnded(), 'five heartbeats or the end', 15_000, 50);
      const answer = stream.isEnded() ? `ended after ${stream.comments.length} heartbeats` : 'open';
      stream.close();
      return answer;
    });
  });

  describe('bodies where none belongs', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({});
    });
    /** Herald's answer, and whether Herald closed the connection itself (rather than this 5 s bound ending it). */
    const refusal = async (request: string) => {
      const began = Date.now();
      const res = await rawExchange(h.port, request, () => false, 5000);
      const code = /"code":"([a-z_]+)"/.exec(res.body)?.[1];
      return `${res.status || 'no answer'}${code ? ` ${code}` : ''}, ${Date.now() - began < 4500 ? 'connection closed' : 'connection left open'}`;
    };
    hostile('no body', 'GET /v1/notifications with a token and Content-Length: 1000, the body never sent', '413 body_not_allowed, connection closed',
      async () => refusal(`GET /v1/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${remember(await h.token('alice'))}\r\nContent-Length: 1000\r\n\r\n`));
    hostile('no body', 'GET /v1/notifications/unread-count, no token, Transfer-Encoding: chunked, one chunk sent (authentication answers first)', '401 invalid_token, connection closed',
      () => refusal('GET /v1/notifications/unread-count HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n'));
    hostile('no body', 'POST /v1/stream/tickets (takes no body) with a token, a chunked JSON body trickled a byte every 250 ms',
      '413 body_not_allowed, closed within a second, before the body was complete', async () => {
        const token = remember(await h.token('alice'));
        return new Promise<string>((resolve) => {
          const socket = connect(h.port, '127.0.0.1');
          const began = Date.now();
          let chunks = 0;
          let answer = '';
          const timer = setInterval(() => {
            if (chunks < 40) socket.write('1\r\n \r\n');
            else if (chunks === 40) socket.write('0\r\n\r\n');
            chunks++;
            if (chunks > 60) { clearInterval(timer); socket.destroy(); resolve(`still open after ${chunks} chunks`); }
          }, 250);
          socket.on('data', (chunk) => { answer += chunk.toString('latin1'); });
          socket.on('close', () => {
            clearInterval(timer);
            const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'no answer';
            const code = /"code":"([a-z_]+)"/.exec(answer)?.[1];
            const when = Date.now() - began < 1000 ? 'closed within a second' : `closed after ${Date.now() - began} ms`;
            resolve(`${status}${code ? ` ${code}` : ''}, ${when}, ${chunks < 40 ? 'before the body was complete' : 'after the whole body'}`);
          });
          socket.on('error', () => {});
          socket.write(`POST /v1/stream/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`);
        });
      });
    hostile('no body', 'control: POST /v1/stream/tickets with Content-Length: 0 (what fetch sends without a body)', '200', async () => {
      const res = await rawExchange(h.port,
        `POST /v1/stream/tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${remember(await h.token('alice'))}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      return String(res.status);
    });
    hostile('no body', 'control: GET /v1/stream with Content-Length: 0', '200 ready', async () => {
      const res = await rawExchange(h.port,
        `GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${remember(await h.token('alice'))}\r\nContent-Length: 0\r\n\r\n`,
        (text) => text.includes('event: ready'));
      return `${res.status}${res.body.includes('event: ready') ? ' ready' : ''}`;
    });
  });

  describe('connections per address', () => {
    let h: HeraldProcess;
    const sockets: Socket[] = [];
    before(async () => {
      h = await start({ HERALD_MAX_CONNECTIONS_PER_ADDRESS: '2', HERALD_TRUST_PROXY: '127.0.0.3' });
    });
    after(() => { for (const socket of sockets) socket.destroy(); });
    /** A connection from `from` (any 127/8 address reaches a loopback listener on Linux), once it is established. */
    const open = (from: string) => new Promise<Socket>((resolve, reject) => {
      const socket = connect({ port: h.port, host: '127.0.0.1', localAddress: from });
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('connect', () => resolve(socket));
      socket.once('close', () => reject(new Error('closed before it was established')));
    });
    /** `GET /healthz` on a kept-alive connection: its status, or 'closed' when the connection ends first. */
    const ask = (socket: Socket) => new Promise<string>((resolve) => {
      if (socket.destroyed) return resolve('closed');
      let text = '';
      const onData = (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (/\r\n\r\n[^]*"status":"ok"/.test(text)) { socket.off('data', onData); resolve(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'garbled'); }
      };
      socket.on('data', onData);
      socket.once('close', () => resolve('closed'));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    const tally = (answers: string[]) => {
      const ok = answers.filter((a) => a === '200').length;
      return `${ok} answered 200, ${answers.length - ok} closed with no answer`;
    };
    const openMany = async (from: string, n: number) => {
      const opened: Socket[] = [];
      for (let i = 0; i < n; i++) opened.push(await open(from));
      return opened;
    };
    hostile('connections', 'five connections from one address, each asking GET /healthz (HERALD_MAX_CONNECTIONS_PER_ADDRESS=2)',
      '2 answered 200, 3 closed with no answer; 3 counted in herald_connections_refused_total, 1 log line; once one closes, a new one is answered 200',
      async () => {
        const opened = await openMany('127.0.0.2', 5);
        const answers = await Promise.all(opened.map(ask));
        const refused = await h.metric('herald_connections_refused_total');
        await waitFor(() => h.logs.some((l) => l.includes('HERALD_MAX_CONNECTIONS_PER_ADDRESS') && l.includes('127.0.0.2')), 'the refusal log line');
        const lines = h.logs.filter((l) => l.includes('HERALD_MAX_CONNECTIONS_PER_ADDRESS') && l.includes('127.0.0.2')).length;
        opened[answers.indexOf('200')]?.destroy();
        const later = await waitFor(async () => {
          const status = await ask(await open('127.0.0.2'));
          return status === '200' ? status : null;
        }, 'a slot after one connection closed', 5000, 50).catch(() => 'never');
        return `${tally(answers)}; ${refused} counted in herald_connections_refused_total, ${lines} log line${lines === 1 ? '' : 's'}; once one closes, a new one is answered ${later}`;
      });
    hostile('connections', 'control: five connections from the trusted proxy 127.0.0.3 (HERALD_TRUST_PROXY), bound 2: the proxy carries many clients',
      '5 answered 200, 0 closed with no answer', async () => tally(await Promise.all((await openMany('127.0.0.3', 5)).map(ask))));
    hostile('connections', 'control: four streams from one address (bound 2), then GET /healthz from it: streams do not count',
      '4 streams ready, then 200, the 4 streams still open', async () => {
        const token = remember(await h.token('alice'));
        const streams: Socket[] = [];
        for (let i = 0; i < 4; i++) {
          const socket = await open('127.0.0.4');
          let text = '';
          socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
          socket.write(`GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`);
          await waitFor(() => text.includes('event: ready') || socket.destroyed, 'the stream to be ready');
          if (!socket.destroyed) streams.push(socket);
        }
        const status = await ask(await open('127.0.0.4'));
        const stillOpen = streams.filter((s) => !s.destroyed).length;
        return `${streams.length} streams ready, then ${status}, the ${stillOpen} streams still open`;
      });
  });

  describe('one user against a node', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({ HERALD_USER_RATE_PER_MINUTE: '30' });
    });
    hostile('user rate', '31 GET /v1/notifications/unread-count by one user in a minute (HERALD_USER_RATE_PER_MINUTE=30)', '30 × 200, then 429 rate_limited',
      async () => {
        const token = remember(await h.token('greedy', { scope: 'subscribe' }));
        const answers: string[] = [];
        for (let i = 0; i <= 30; i++) answers.push(await answer(await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${token}` } })));
        return `${answers.filter((a) => a === '200').length} × 200, then ${answers.at(-1)}`;
      });
    hostile('expiry', 'a publish with expires_at ten years ahead (an expiry that piles up work far away)', '400 invalid_time', async () =>
      answer(await fetch(`${h.url}/v1/notifications`, {
        method: 'POST', headers: { authorization: `Bearer ${remember(await h.token('app', { scope: 'publish' }))}`, 'content-type': 'application/json' },
        body: JSON.stringify({ recipients: ['alice'], type: 'x', content: 'x', expires_at: new Date(Date.now() + 3650 * 86_400_000).toISOString() }),
      })));
    hostile('user rate', 'control: another user on the same node right after', '200', async () =>
      answer(await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${remember(await h.token('modest', { scope: 'subscribe' }))}` } })));
  });

  describe('one user\'s reads over many rows', () => {
    let h: HeraldProcess;
    before(async () => {
      h = await start({});
      await seedBroadcasts(h.env.HERALD_DATABASE_URL as string, 70_000);
    });
    hostile('user reads', 'a user with one mute asks 8 unread counts and a ?status=snoozed list at once, over 70,000 broadcast rows (/healthz took 2.2 s)',
      'slowest /healthz under 400 ms, 9 × 200', async () => {
        const headers = { authorization: `Bearer ${remember(await h.token('muter', { scope: 'subscribe' }))}`, 'content-type': 'application/json' };
        await (await fetch(`${h.url}/v1/preferences`, { method: 'PUT', headers, body: JSON.stringify({ muted_types: ['social.*'] }) })).text();
        let ok = 0;
        const slowest = await slowestHealthzDuring(h.url, async () => {
          const paths = [...Array<string>(8).fill('/v1/notifications/unread-count'), '/v1/notifications?status=snoozed'];
          const answers = await Promise.all(paths.map(async (path) => answer(await fetch(`${h.url}${path}`, { headers }))));
          ok = answers.filter((a) => a === '200').length;
        });
        return `slowest /healthz ${slowest < 400 ? 'under 400 ms' : `${Math.round(slowest)} ms`}, ${ok} × 200`;
      });
  });

  describe('scheduled storage', () => {
    let h: HeraldProcess;
    let publishToken: string;
    before(async () => {
      h = await start({});
      publishToken = remember(await h.token('campaigns', { scope: 'publish' }));
    });
    const post = (path: string, body: unknown) => fetch(`${h.url}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${publishToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    /** The database file and its write-ahead log, on disk. */
    const databaseBytes = () => [h.env.HERALD_DATABASE_URL as string, `${h.env.HERALD_DATABASE_URL}-wal`]
      .reduce((total, file) => total + (existsSync(file) ? statSync(file).size : 0), 0);
    const recipients = Array.from({ length: 1000 }, (_, i) => `member-${i}`);
    hostile('scheduled storage', 'one scheduled publish of 48 KB to 1000 recipients, a year ahead (was stored once per recipient: 48 MB)',
      '202, the database grew by less than 5 MB', async () => {
        const before = databaseBytes();
        const published = await post('/v1/notifications', {
          recipients, type: 'campaign', content: randomBytes(36_000).toString('base64'), deliver_at: new Date(Date.now() + 360 * 86_400_000).toISOString(),
          idempotency_key: 'campaign-2027',
        });
        const grown = databaseBytes() - before;
        return `${await answer(published)}, the database grew by ${grown < 5_000_000 ? 'less than 5 MB' : `${(grown / 1e6).toFixed(1)} MB`}`;
      });
    hostile('scheduled storage', 'POST /v1/notifications/cancel {"idempotency_key":"campaign-2027"}: the whole campaign in one request', '200, 1000 cancelled',
      async () => {
        const res = await post('/v1/notifications/cancel', { idempotency_key: 'campaign-2027' });
        const body = await res.json() as { cancelled?: string[] };
        return `${res.status}, ${body.cancelled?.length ?? 0} cancelled`;
      });
  });

  describe('the herald command', () => {
    const run = (args: string[], env: Record<string, string> = {}, input?: string) => {
      const result = spawnSync(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, input, encoding: 'utf8', timeout: 20_000 });
      return `exit ${result.status}: ${result.stderr.trim()}`;
    };
    const secret = 'c'.repeat(40);
    hostile('cli', 'herald token --sub alice --scope admin --ttl 999999999 (a 31-year admin token)',
      'exit 2: herald: --ttl must be a whole number of seconds from 1 to 2592000 (30 days) (got "999999999")',
      async () => run(['token', '--sub', 'alice', '--scope', 'admin', '--ttl', '999999999'], { HERALD_JWT_SECRET: secret }));
    hostile('cli', 'herald token --sub "has space"', 'exit 2: herald: --sub must be 1 to 256 printable characters without spaces (got "has space")',
      async () => run(['token', '--sub', 'has space'], { HERALD_JWT_SECRET: secret }));
    hostile('cli', 'herald token with no key in a folder without a development server', 'exit 1, no secret file created', async () => {
      const scratch = join(dir, `cli-${Math.random().toString(36).slice(2)}`);
      mkdirSync(scratch);
      const result = spawnSync(process.execPath, [CLI, 'token', '--sub', 'alice'], {
        env: { PATH: process.env.PATH ?? '', HERALD_DATABASE_URL: join(scratch, 'data', 'herald.db') }, encoding: 'utf8', timeout: 20_000,
      });
      return `exit ${result.status}, ${existsSync(join(scratch, 'data', 'herald-dev-secret')) ? 'secret file created' : 'no secret file created'}`;
    });
    hostile('cli', 'herald publish --token <jwt> (the token would show in ps)',
      'exit 2: herald: --token takes only "-" (read the token from stdin): a token on the command line shows in ps; pipe it in, or set HERALD_TOKEN',
      async () => run(['publish', '--to', 'alice', '--content', 'x', '--token', 'eyJhbGciOiJIUzI1NiJ9.e30.x', '--url', 'http://127.0.0.1:9']));
  });
}
