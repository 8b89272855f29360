// Follow a user's stream with a plain EventSource (the `eventsource` package in Node; the
// same code runs in a browser with the global EventSource). A native EventSource cannot
// send headers, so it trades the JWT for a one-time ticket that is valid for ~30 s, and
// reopens with a fresh ticket and its cursor whenever the stream drops, backing off while
// Herald is unreachable (a restart, a deploy).
//
// From the repository root, once: npm install && npm start   (embedded Herald on :8080)
// then, in another shell:
//   HERALD_TOKEN=$(npx herald token --sub alice) node client/examples/native-eventsource.mjs
/* global fetch, setTimeout */
import { EventSource } from 'eventsource';

const base = process.env.HERALD_URL ?? 'http://127.0.0.1:8080';
const token = process.env.HERALD_TOKEN;
if (!token) {
  console.error('set HERALD_TOKEN to a user JWT: HERALD_TOKEN=$(npx herald token --sub alice)');
  process.exit(2);
}

let cursor; // the last id: seen, sent back as last_event_id when we reopen
let failures = 0;

async function ticket() {
  const response = await fetch(`${base}/v1/stream/tickets`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401 || response.status === 403) {
    // Retrying cannot fix a refused token.
    console.error(`the token was refused (${response.status}): ${await response.text()}`);
    process.exit(1);
  }
  if (!response.ok) throw new Error(`ticket: ${response.status} ${await response.text()}`);
  return (await response.json()).ticket;
}

/** Full-jitter exponential backoff: 0.5 s, 1 s, 2 s … capped at 30 s. */
function reopenLater() {
  const delay = Math.random() * Math.min(30_000, 500 * 2 ** failures++);
  setTimeout(open, delay);
}

async function open() {
  let url;
  try {
    url = new URL('/v1/stream', base);
    url.searchParams.set('ticket', await ticket());
  } catch (err) {
    console.log(`cannot reach Herald (${err.cause?.code ?? err.message}); retrying`);
    return reopenLater();
  }
  if (cursor) url.searchParams.set('last_event_id', cursor);

  const source = new EventSource(url);
  const track = (event) => {
    if (event.lastEventId) cursor = event.lastEventId;
  };
  source.addEventListener('ready', (e) => {
    failures = 0;
    track(e);
    console.log('ready', JSON.parse(e.data));
  });
  source.addEventListener('notification', (e) => {
    track(e);
    const n = JSON.parse(e.data);
    console.log(`[${n.type}] ${n.title ?? ''} ${n.content} (unread: ${n.unread_count})`);
  });
  source.addEventListener('notification.updated', (e) => {
    track(e);
    console.log('updated', JSON.parse(e.data));
  });
  source.addEventListener('reset', (e) => {
    track(e);
    console.log('reset: refetch the inbox', JSON.parse(e.data));
  });
  source.onerror = () => {
    // The ticket is single-use: EventSource's own reconnect would be refused (and a non-200
    // stops it for good), so close it and reopen with a fresh ticket and the cursor.
    source.close();
    console.log('stream dropped; reopening');
    reopenLater();
  };
}

await open();
