import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test, type TestContext } from 'node:test';
import { HeraldStream, type HeraldStreamOptions } from '../src/stream.js';
import type { HeraldError, NotificationEvent, StreamState } from '../src/types.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import {
  notification,
  readyEvent,
  sseEvent,
  sseHead,
  startScriptedServer,
  waitFor,
  type Script,
} from './scripted-server.js';

interface Observed {
  stream: HeraldStream;
  notifications: NotificationEvent[];
  states: StreamState[];
  errors: HeraldError[];
}

/**
 * The tests fire retry timers (backoff: well under this) but not the watchdog, which also
 * waits while a request is in flight (2.5 × the 15 s heartbeat).
 */
const RETRY_WITHIN_MS = 30_000;

/** Starts a stream against a scripted server and records what an application would see. */
async function observe(t: TestContext, scripts: Script[], options: Partial<HeraldStreamOptions> = {}) {
  const server = await startScriptedServer(scripts);
  const stream = new HeraldStream({ url: server.url, minDelayMs: 10, maxDelayMs: 50, ...options });
  const seen: Observed = { stream, notifications: [], states: [], errors: [] };
  stream.on('notification', (n) => seen.notifications.push(n));
  stream.on('state', ({ newState }) => seen.states.push(newState));
  stream.on('error', (e) => seen.errors.push(e));
  t.after(async () => {
    stream.close();
    await server.close();
  });
  stream.start();
  return { server, ...seen };
}

test('resumes from the cursor after a drop mid-event: nothing lost, nothing twice', async (t) => {
  const { server, notifications, states } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.write('retry: 10\n\n' + readyEvent('e.0'));
      res.write(sseEvent('notification', notification('n1'), 'e.1'));
      res.write(sseEvent('notification', notification('n2'), 'e.2'));
      // Cut off before the blank line: WHATWG says this event is discarded.
      const partial = sseEvent('notification', notification('n3'), 'e.3');
      res.write(partial.slice(0, partial.length - 10), () => res.destroy());
    },
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.2'));
      // A replay that repeats n2 must not show it twice.
      res.write(sseEvent('notification', notification('n2'), 'e.2'));
      res.write(sseEvent('notification', notification('n3'), 'e.3'));
      res.write(sseEvent('notification', notification('n4'), 'e.4'));
    },
  ]);
  await waitFor(() => notifications.length >= 3, 'three notifications');
  await waitFor(() => server.requests.length === 2 && states.at(-1) === 'open', 'second connection open');
  assert.equal(server.requests[0]?.headers['last-event-id'], undefined);
  assert.equal(server.requests[1]?.headers['last-event-id'], 'e.2');
  await waitFor(() => notifications.length === 4, 'n4');
  assert.deepEqual(
    notifications.map((n) => n.id),
    ['n1', 'n2', 'n3', 'n4'],
  );
  assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open']);
});

test('a retry: that is not all ASCII digits is ignored; a valid one is kept', async (t) => {
  const clock = new ManualClock();
  const { server, stream } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.end('retry: 20\n\nretry: 1e3\n\nretry: -5\n\nretry: 30ms\n\nretry:  40\n\n' + readyEvent('e.0'));
    },
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0'));
    },
  // random 0: the backoff draws its floor, which is the server's hint.
  ], { clock, random: () => 0 });
  await waitFor(() => stream.state === 'reconnecting', 'the stream to end');
  assert.equal(stream.backoff.retryHintMs, 20);
  assert.deepEqual(clock.pending(), [20], 'the reconnect waits the 20 ms hint');
  clock.advance(20);
  await waitFor(() => server.requests.length === 2, 'a reconnect');
});

test('503 with Retry-After waits that long, then a 200 opens the stream', async (t) => {
  const clock = new ManualClock();
  const { server, stream, errors } = await observe(t, [
    (_req, res) => {
      res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'overloaded', message: 'try later' } }));
    },
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0'));
    },
  ], { clock });
  await waitFor(() => stream.state === 'reconnecting', 'the 503');
  assert.deepEqual(clock.pending(), [1000], 'the reconnect waits what Retry-After said');
  clock.advance(999);
  assert.equal(server.requests.length, 1, 'no request before Retry-After has passed');
  clock.advance(1);
  await waitFor(() => stream.state === 'open', 'open after the 503');
  assert.equal(server.requests.length, 2);
  assert.equal(errors[0]?.code, 'unavailable');
  assert.equal(errors[0]?.status, 503);
});

test('a 401 makes the SDK ask the token provider again; the fresh token connects', async (t) => {
  const reasons: string[] = [];
  const tokens = ['stale', 'fresh'];
  const { server, stream } = await observe(
    t,
    [
      (req, res) => {
        if (req.headers.authorization !== 'Bearer fresh') {
          res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
          return;
        }
        sseHead(res);
        res.write(readyEvent('e.0'));
      },
    ],
    {
      getToken: async ({ reason }) => {
        reasons.push(reason);
        return tokens.shift();
      },
    },
  );
  await waitFor(() => stream.state === 'open', 'open with the fresh token');
  assert.deepEqual(reasons, ['connect', 'unauthorized']);
  assert.equal(server.requests.length, 2);
});

for (const status of [401, 403]) {
  test(`a ${status} that a fresh token cannot fix closes the stream for good`, async (t) => {
    let asked = 0;
    const clock = new ManualClock();
    const { server, states, errors } = await observe(
      t,
      [(_req, res) => void res.writeHead(status).end()],
      {
        clock,
        getToken: () => {
          asked += 1;
          return `token-${asked}`;
        },
      },
    );
    // The retry with a fresh token is scheduled on the clock: let it fire.
    await waitFor(() => states.at(-1) === 'closed' || (clock.fireNext(RETRY_WITHIN_MS), false), 'closed');
    assert.equal(server.requests.length, 2);
    assert.equal(asked, 2);
    assert.equal(errors.at(-1)?.status, status);
    assert.deepEqual(states, ['connecting', 'reconnecting', 'closed']);
    // Closed with no timer pending and no request in flight: nothing can ever retry.
    assert.deepEqual(clock.pending(), [], 'no retry scheduled after the terminal state');
  });
}

test('204 closes the stream for good', async (t) => {
  const clock = new ManualClock();
  const { server, states, errors } = await observe(t, [(_req, res) => void res.writeHead(204).end()], { clock });
  await waitFor(() => states.at(-1) === 'closed', 'closed');
  assert.equal(errors[0]?.code, 'no_content');
  assert.equal(server.requests.length, 1);
  assert.deepEqual(clock.pending(), [], 'no retry scheduled');
});

test('silence longer than 2.5 heartbeats makes the client reconnect', async (t) => {
  const clock = new ManualClock();
  const { server, errors, states } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0', 40)); // then nothing, not even a heartbeat
    },
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0', 15_000));
    },
  ], { clock, random: () => 0.5 });
  // ready announced 40 ms heartbeats: the watchdog is set to 2.5 × 40 ms.
  await waitFor(() => states.at(-1) === 'open' && clock.pending().includes(100), 'the watchdog armed for 100 ms');
  clock.advance(99);
  assert.equal(server.requests.length, 1, 'still connected 1 ms before the watchdog');
  assert.equal(errors.length, 0);
  clock.advance(1);
  assert.equal(errors[0]?.code, 'heartbeat_timeout');
  // The reconnect waits out its backoff (5 ms: `random` is fixed, as a delay of 0 would fire
  // within the advance above) on the same clock: fire that one timer only. The reconnect arms
  // a 100 ms watchdog of its own before its request reaches the server, and firing timers
  // until the request arrives could fire that one too and abort it.
  await waitFor(() => clock.fireNext(RETRY_WITHIN_MS), 'the reconnect\'s backoff timer');
  await waitFor(() => server.requests.length === 2, 'a reconnect after the silence');
  assert.equal(server.requests[1]?.headers['last-event-id'], 'e.0');
  await waitFor(() => states.at(-1) === 'open', () => `open again (states ${states.join(' ')}; errors ${errors.map((e) => `${e.code} (${e.message})`).join(', ')}; now ${clock.now()}; timers due in ${clock.pending().join(' ')} ms)`);
});

test('a server that takes the connection and never answers is given up after 2.5 heartbeats, and the client reconnects', async (t) => {
  const clock = new ManualClock();
  const { server, errors, states } = await observe(t, [
    () => {}, // no headers, no body, never
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0', 15_000));
    },
  ], { clock });
  // Before any ready, the heartbeat assumed is the default 15 s: 2.5 × 15 s.
  await waitFor(() => server.requests.length === 1 && clock.pending().includes(37_500), 'the watchdog armed while the request waits');
  clock.advance(37_499);
  assert.equal(errors.length, 0, 'still waiting 1 ms before the watchdog');
  clock.advance(1);
  assert.equal(errors[0]?.code, 'heartbeat_timeout');
  await waitFor(() => server.requests.length === 2 || (clock.fireNext(RETRY_WITHIN_MS), false), 'a reconnect after no answer');
  await waitFor(() => states.at(-1) === 'open', 'open on the second try');
});

test('heartbeat comments keep a quiet connection alive', async (t) => {
  const clock = new ManualClock();
  let open: ServerResponse | null = null;
  const { server, stream, errors } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0', 100));
      open = res;
    },
  ], { clock });
  // A 250 ms watchdog (2.5 × 100 ms); each beat comes 200 ms after the last, four times.
  await waitFor(() => stream.state === 'open' && clock.pending().includes(250), 'the watchdog armed for 250 ms');
  for (let beat = 1; beat <= 4; beat += 1) {
    clock.advance(200);
    (open as ServerResponse | null)?.write(': hb\n\n');
    await waitFor(() => clock.pending().includes(250), `heartbeat ${beat} to re-arm the watchdog`);
  }
  // 800 ms of clock time on a 250 ms watchdog, and the first connection still serves.
  assert.equal(server.requests.length, 1);
  assert.equal(errors.length, 0);
  assert.equal(stream.state, 'open');
});

test('reset is surfaced so the app refetches, and moves the cursor', async (t) => {
  const { stream } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('old.9'));
      res.write(sseEvent('reset', { reason: 'unknown_cursor', unread_count: 2, cursor: 'new.0' }, 'new.0'));
    },
  ]);
  const resets: string[] = [];
  stream.on('reset', (r) => resets.push(r.reason));
  await waitFor(() => resets.length === 1, 'reset');
  assert.equal(stream.cursor, 'new.0');
});

test('auth-expired: the client asks for a fresh token and comes straight back', async (t) => {
  const clock = new ManualClock();
  const reasons: string[] = [];
  const { server, stream } = await observe(
    t,
    [
      (_req, res) => {
        sseHead(res);
        res.write(readyEvent('e.0'));
        res.end(sseEvent('auth-expired', { reason: 'token_expired' }));
      },
      (_req, res) => {
        sseHead(res);
        res.write(readyEvent('e.0'));
      },
    ],
    {
      clock,
      minDelayMs: 5000,
      maxDelayMs: 5000,
      getToken: ({ reason }) => {
        reasons.push(reason);
        return 'token';
      },
    },
  );
  // Straight back: the retry is due at once, not after the 5 s backoff.
  await waitFor(() => stream.state === 'reconnecting', 'the stream to end');
  assert.deepEqual(clock.pending(), [0]);
  clock.advance(0);
  await waitFor(() => server.requests.length === 2, 'reconnect');
  assert.deepEqual(reasons, ['connect', 'expired']);
});

test('the backoff resets once a connection stayed open for the stable period', async (t) => {
  const clock = new ManualClock();
  let third: ServerResponse | null = null;
  const { server, stream } = await observe(
    t,
    [
      (_req, res) => void res.writeHead(500).end(),
      (_req, res) => void res.writeHead(500).end(),
      (_req, res) => {
        sseHead(res);
        res.write(readyEvent('e.0'));
        third = res;
      },
      (_req, res) => {
        sseHead(res);
        res.write(readyEvent('e.0'));
      },
    ],
    { stableAfterMs: 50, clock },
  );
  // Two failures, each retried after its backoff on the clock.
  await waitFor(() => (stream.state === 'open' && server.requests.length === 3) || (clock.fireNext(RETRY_WITHIN_MS), false), 'the third connection open');
  assert.equal(stream.backoff.attempt, 2);
  clock.advance(49);
  assert.equal(stream.backoff.attempt, 2, 'not yet stable 1 ms before the period');
  clock.advance(1);
  assert.equal(stream.backoff.attempt, 0, 'backoff reset after 50 ms open');
  (third as ServerResponse | null)?.end();
  await waitFor(() => (server.requests.length === 4 && stream.state === 'open') || (clock.fireNext(RETRY_WITHIN_MS), false), 'reconnect after the stable one ended');
  assert.equal(stream.backoff.attempt, 1);
});

test('the parser copes with 1-byte chunks, CR/CRLF/LF line ends, a BOM and split multibyte text', async (t) => {
  const content = 'héllo 🔔 — ünïcødé';
  const body =
    '\uFEFFretry: 25\r\n\r\n' +
    readyEvent('e.0').replace(/\n/g, '\r') +
    ': hb\r\n\r\n' +
    sseEvent('notification', { ...notification('n1'), content }, 'e.1').replace(/\n/g, '\r\n') +
    sseEvent('notification', notification('n2'), 'e.2');
  const bytes = new TextEncoder().encode(body);
  let served = 0;
  const fakeFetch: typeof fetch = async () => {
    served += 1;
    let i = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (served > 1 || i >= bytes.length) return; // stay open, silent
        controller.enqueue(bytes.slice(i, i + 1));
        i += 1;
      },
    });
    return new Response(stream, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  };
  const stream = new HeraldStream({ url: 'http://herald.invalid', fetch: fakeFetch });
  t.after(() => stream.close());
  const got: NotificationEvent[] = [];
  const readies: string[] = [];
  stream.on('notification', (n) => got.push(n));
  stream.on('ready', (r) => readies.push(r.cursor));
  stream.start();
  await waitFor(() => got.length === 2, 'two notifications');
  assert.deepEqual(readies, ['e.0']);
  assert.equal(got[0]?.content, content);
  assert.equal(stream.cursor, 'e.2');
  assert.equal(stream.backoff.retryHintMs, 25);
  assert.equal(served, 1);
});

test('a non-SSE 200 (a proxy error page) is retried, not parsed', async (t) => {
  const { server, stream, errors } = await observe(t, [
    (_req, res) => void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<h1>bad gateway</h1>'),
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0'));
    },
  ]);
  await waitFor(() => stream.state === 'open' && server.requests.length === 2, 'open on the second try');
  assert.equal(errors[0]?.code, 'bad_content_type');
});

test('close() aborts the request and stops reconnecting', async (t) => {
  const clock = new ManualClock();
  let aborted = false;
  const { server, stream, states } = await observe(t, [
    (_req, res) => {
      sseHead(res);
      res.write(readyEvent('e.0'));
      res.on('close', () => { aborted = true; });
    },
  ], { clock });
  await waitFor(() => stream.state === 'open', 'open');
  stream.close();
  assert.deepEqual(states, ['connecting', 'open', 'closed']);
  await waitFor(() => aborted, 'the server to see the request end');
  assert.deepEqual(clock.pending(), [], 'no reconnect scheduled');
  assert.equal(server.requests.length, 1);
});
