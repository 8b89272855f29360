// A host web app on its own origin (another port of 127.0.0.1) that embeds <herald-inbox>
// the way client/examples/herald-inbox.html shows: that very file is its home page, pointed
// at the Herald under test, and /herald-token plays the app's backend handing out tokens.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const EXAMPLE_PAGE = fileURLToPath(new URL('../../../client/examples/herald-inbox.html', import.meta.url));
/** The Herald address written in the example, replaced by the one under test. */
export const EXAMPLE_HERALD = 'http://127.0.0.1:8080';

export interface HostApp {
  /** The host's origin, e.g. http://127.0.0.1:41234 (what HERALD_CORS_ORIGINS must name). */
  origin: string;
  /** Where the element's Herald is; set once Herald runs (it needs the origin first). */
  herald: string;
  /** Answers GET /herald-token (its URL, e.g. `?user=ann` on the bell pages); called once per token request of the page. */
  mintToken: (url: URL) => Promise<string>;
  /** How many tokens the page asked for. */
  tokenRequests: number;
  /** Serves `html` (with the Herald address filled in) at `path`; a `.js` path as JavaScript. */
  addPage(path: string, html: string): void;
  close(): Promise<void>;
}

export async function startHostApp(): Promise<HostApp> {
  const example = readFileSync(EXAMPLE_PAGE, 'utf8');
  const pages = new Map<string, string>([['/', example]]);
  const host: HostApp = {
    origin: '',
    herald: '',
    mintToken: () => Promise.reject(new Error('no token minter set')),
    tokenRequests: 0,
    addPage: (path, html) => void pages.set(path, html),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://host');
    const path = url.pathname;
    if (path === '/herald-token') {
      host.tokenRequests += 1;
      host.mintToken(url).then(
        (token) => response.writeHead(200, { 'content-type': 'text/plain' }).end(token),
        (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    const page = pages.get(path);
    // Any other path is a page of the app, where a notification's data.url may lead.
    const body = page?.replaceAll(EXAMPLE_HERALD, host.herald) ?? `<!doctype html><html lang="en"><title>${path}</title><h1>${path}</h1></html>`;
    // A page added at a `.js` path is a script (e.g. a service worker of the app's origin).
    const type = page && path.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8';
    response.writeHead(page ? 200 : 404, { 'content-type': type }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return host;
}

/** Where a bell page puts the element: the hard cases and a phone's header. */
export type BellPosition = 'left' | 'right' | 'bottom' | 'phone';

const BELL_LAYOUT: Record<BellPosition, { title: string; css: string; bellFirst: boolean }> = {
  // A header whose first item is the bell, as some app layouts put it (bell centre at x≈28).
  left: { title: 'Bell at the left edge', css: 'header{justify-content:flex-start}', bellFirst: true },
  right: { title: 'Bell at the right edge', css: 'header strong{flex:1}', bellFirst: false },
  // A bar fixed at the bottom of the window, bell at its right end (a chat-widget corner).
  bottom: { title: 'Bell at the bottom', css: 'header{position:fixed;left:0;right:0;bottom:0}header strong{flex:1}', bellFirst: false },
  phone: { title: 'Bell in a phone header', css: 'header strong{flex:1}', bellFirst: false },
};

/**
 * A page of the host app with one <herald-inbox> placed at `position`, its tokens for `user`
 * from the app's /herald-token. `attributes` go on the element (e.g. `placement="top-start"`).
 */
export function bellPage(user: string, position: BellPosition, attributes = ''): string {
  const layout = BELL_LAYOUT[position];
  const bell = `<herald-inbox server="${EXAMPLE_HERALD}" ${attributes}></herald-inbox>`;
  const brand = '<strong>Acme</strong>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${layout.title}</title>
<script type="module" src="${EXAMPLE_HERALD}/herald-inbox.js"></script>
<style>
body{margin:0;font:15px/1.5 system-ui,sans-serif;color:#1f2328;background:#f6f8fa}
header{display:flex;align-items:center;gap:12px;padding:4px 8px;background:#24292f;color:#fff}
main{max-width:720px;margin:24px auto;padding:0 16px}
${layout.css}
</style>
</head>
<body>
<header>${layout.bellFirst ? bell + brand : brand + bell}</header>
<main><h1>${layout.title}</h1><p>The panel must open inside the window wherever the bell is.</p></main>
<script type="module">
document.querySelector('herald-inbox').tokenProvider = async () => (await fetch('/herald-token?user=${encodeURIComponent(user)}')).text();
</script>
</body>
</html>`;
}
