// An app with Herald in React: the drop-in bell (<HeraldInbox>), an unread badge of its
// own (useUnreadCount) and a headless notification feed (useNotifications), all under one
// <HeraldProvider>, so they share one stream, shared in turn by every tab.
import { HeraldInbox, HeraldProvider } from '@herald/react';
import { ConnectionStatus } from './ConnectionStatus.jsx';
import { Feed } from './Feed.jsx';
import { countRender } from './render-count.js';
import { UnreadBadge } from './UnreadBadge.jsx';

// Herald's address, e.g. VITE_HERALD_URL=https://herald.example.com npm run build; Herald
// lets this app's origin in with HERALD_CORS_ORIGINS.
const HERALD_URL = import.meta.env.VITE_HERALD_URL ?? 'http://127.0.0.1:8080';

// Your app knows who is signed in; the example backend (token-server.mjs) signs in alice.
const USER = 'alice';

// Asked once at start and again whenever the token nears its expiry or Herald refuses it.
async function getToken() {
  const response = await fetch('/herald-token', { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  return response.text();
}

// href is data.url checked by the element (http or https only); never follow data.url itself.
function openNotification(_notification, href) {
  if (href) location.assign(href);
}

export function App() {
  countRender('App');
  return (
    <HeraldProvider server={HERALD_URL} getToken={getToken} user={USER}>
      <header>
        <strong>Acme</strong>
        <ConnectionStatus />
        <UnreadBadge />
        <HeraldInbox onOpen={openNotification} />
      </header>
      <main>
        <Dashboard />
        <Feed />
      </main>
    </HeraldProvider>
  );
}

// Reads nothing from Herald: never re-rendered by a notification.
function Dashboard() {
  countRender('Dashboard');
  return (
    <section>
      <h1>Dashboard</h1>
      <p>New notifications arrive live in the bell and in the feed below, in every tab.</p>
    </section>
  );
}
