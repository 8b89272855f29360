/* global fetch, setTimeout */
// Follow a user's stream with a plain EventSource (the `eventsource` package in Node; the
// same code runs in a browser with the global EventSource). A native EventSource cannot
// send headers, so it trades the JWT for a one-time ticket that is valid for ~30 s.
//
//   HERALD_URL=http://127.0.0.1:8080 HERALD_TOKEN=$(herald token alice) node client/examples/native-eventsource.mjs
import { EventSource } from 'eventsource';

const base = process.env.HERALD_URL ?? 'http://127.0.0.1:8080';
const token = process.env.HERALD_TOKEN;
if (!token) throw new Error('set HERALD_TOKEN to a user JWT (e.g. `herald token alice`)');

let cursor; // the last id: seen, sent back as last_event_id when we reopen

async function open() {
  const response = await fetch(`${base}/v1/stream/tickets`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!response.ok) throw new Error(`ticket: ${response.status} ${await response.text()}`);
  const { ticket } = await response.json();
  const url = new URL('/v1/stream', base);
  url.searchParams.set('ticket', ticket);
  if (cursor) url.searchParams.set('last_event_id', cursor);

  const source = new EventSource(url);
  const track = (event) => {
    if (event.lastEventId) cursor = event.lastEventId;
  };
  source.addEventListener('ready', (e) => {
    track(e);
    console.log('ready', JSON.parse(e.data));
  });
  source.addEventListener('notification', (e) => {
    track(e);
    const n = JSON.parse(e.data);
    console.log(`[${n.type}] ${n.title ?? ''} ${n.content} (unread: ${n.unread_count})`);
  });
  source.addEventListener('notification.updated', (e) => console.log('updated', JSON.parse(e.data)));
  source.addEventListener('reset', (e) => {
    track(e);
    console.log('reset: refetch the inbox', JSON.parse(e.data));
  });
  source.onerror = () => {
    // The ticket is single-use: EventSource's own reconnect would be refused (and a non-200
    // stops it for good), so close it and reopen with a fresh ticket and the cursor.
    source.close();
    setTimeout(() => open().catch(console.error), 1000 + Math.random() * 2000);
  };
}

await open();
