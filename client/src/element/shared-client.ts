// The SDK client behind every <herald-inbox> of a page: one per Herald and user, whatever the
// number of elements, so they share its stream (itself shared with the other tabs).
import { createHeraldClient, type HeraldClient } from '../index.js';
import type { TokenProvider } from '../types.js';

/** The token comes from whichever element still holds the client. */
interface SharedClient {
  client: HeraldClient;
  tokenSources: Set<TokenProvider>;
}
const sharedClients = new Map<string, SharedClient>();

/**
 * A write that starts as the page navigates away (a click on an item marks it read while the
 * host follows its link) must still reach Herald: keepalive outlives the page.
 */
const keepaliveFetch: typeof fetch = (input, init) =>
  globalThis.fetch(input, init?.method && init.method !== 'GET' ? { ...init, keepalive: true } : init);

export function acquireClient(server: string, user: string, tokenSource: TokenProvider): HeraldClient {
  const key = `${server}\n${user}`;
  let entry = sharedClients.get(key);
  if (!entry) {
    const tokenSources = new Set<TokenProvider>();
    const client = createHeraldClient({
      url: server,
      fetch: keepaliveFetch,
      getToken: (context) => {
        const first = tokenSources.values().next().value;
        return first ? first(context) : undefined;
      },
      // The host page's tabs share one stream per Herald and user.
      shareKey: `herald-inbox ${server} ${user}`,
    });
    entry = { client, tokenSources };
    sharedClients.set(key, entry);
    client.stream.start();
  }
  entry.tokenSources.add(tokenSource);
  return entry.client;
}

export function releaseClient(client: HeraldClient, tokenSource: TokenProvider): void {
  for (const [key, entry] of sharedClients) {
    if (entry.client !== client) continue;
    entry.tokenSources.delete(tokenSource);
    if (entry.tokenSources.size === 0) {
      entry.client.stream.close();
      sharedClients.delete(key);
    }
  }
}

// Leaving the page hands the stream to another tab at once; back from the bfcache, resume.
if (typeof addEventListener === 'function') {
  addEventListener('pagehide', () => {
    for (const entry of sharedClients.values()) entry.client.stream.close();
  });
  addEventListener('pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) for (const entry of sharedClients.values()) entry.client.stream.start();
  });
}

/** The JWT's claims, unverified: only to name the shared stream and to know when to ask again. */
export function claimsOf(token: string): { sub?: unknown; exp?: unknown; iat?: unknown } {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json) as { sub?: unknown; exp?: unknown; iat?: unknown };
  } catch {
    return {};
  }
}
