// An app with Herald in Vue: the drop-in bell (<HeraldInbox>), an unread badge of its own
// (useUnreadCount) and a headless notification feed (useNotifications), all through one
// createHerald plugin, so they share one stream, shared in turn by every tab.
import { createHerald } from '@herald/vue';
import { createApp } from 'vue';
import App from './App.vue';

// Asked once at start and again whenever the token nears its expiry or Herald refuses it.
async function getToken() {
  const response = await fetch('/herald-token', { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  return response.text();
}

createApp(App)
  .use(createHerald({
    // Herald's address, e.g. VITE_HERALD_URL=https://herald.example.com npm run build;
    // Herald lets this app's origin in with HERALD_CORS_ORIGINS.
    server: import.meta.env.VITE_HERALD_URL ?? 'http://127.0.0.1:8080',
    getToken,
    // Your app knows who is signed in; the example backend (token-server.mjs) signs in alice.
    user: 'alice',
  }))
  .mount('#app');
