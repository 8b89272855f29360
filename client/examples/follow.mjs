// Follow a user's notifications with the SDK in Node 20+ (the same code runs in a browser).
// The SDK reconnects with backoff and resumes from its cursor, so it rides out a Herald
// restart without losing or repeating a notification.
//
// From the repository root, once: npm install && npm start   (embedded Herald on :8080)
// then, in another shell:
//   HERALD_TOKEN=$(npx herald token --sub alice) node client/examples/follow.mjs
//
// `@herald/client` resolves to client/dist (built by `npm run build`) because this file is
// inside the package; in your project it is the installed package.
import { createHeraldClient } from '@herald/client';

const token = process.env.HERALD_TOKEN;
if (!token) {
  console.error('set HERALD_TOKEN to a user JWT: HERALD_TOKEN=$(npx herald token --sub alice)');
  process.exit(2);
}

const { stream, inbox } = createHeraldClient({
  url: process.env.HERALD_URL ?? 'http://127.0.0.1:8080',
  getToken: () => token, // asked before every connect: return a fresh JWT in real code
});
stream.on('state', ({ newState }) => console.log(`state: ${newState}`));
stream.on('notification', (n) => console.log(`[${n.type}] ${n.title ?? ''} ${n.content} (unread: ${n.unread_count})`));
stream.on('notification.updated', (u) => console.log(`updated: ${u.ids.join(',') || 'all'} unread: ${u.unread_count}`));
stream.on('reset', () => console.log('reset: refetch the inbox'));
stream.on('error', (err) => console.log(`error: ${err.code} ${err.message}`));
stream.start();

console.log(`unread: ${await inbox.unreadCount()}`);
process.on('SIGINT', () => stream.close());
