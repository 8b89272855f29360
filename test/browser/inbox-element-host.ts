// A host web app on its own origin (another port of 127.0.0.1) that embeds <herald-inbox>
// the way client/examples/herald-inbox.html shows: that very file is its home page, pointed
// at the Herald under test, and /herald-token plays the app's backend handing out tokens.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const EXAMPLE_PAGE = fileURLToPath(new URL('../../../client/examples/herald-inbox.html', import.meta.url));
/** The Herald address written in the example, replaced by the one under test. */
const EXAMPLE_HERALD = 'http://127.0.0.1:8080';

export interface HostApp {
  /** The host's origin, e.g. http://127.0.0.1:41234 (what HERALD_CORS_ORIGINS must name). */
  origin: string;
  /** Where the element's Herald is; set once Herald runs (it needs the origin first). */
  herald: string;
  /** Answers GET /herald-token; called once per token request of the page. */
  mintToken: () => Promise<string>;
  /** How many tokens the page asked for. */
  tokenRequests: number;
  /** Serves `html` (with the Herald address filled in) at `path`. */
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
    const path = new URL(request.url ?? '/', 'http://host').pathname;
    if (path === '/herald-token') {
      host.tokenRequests += 1;
      host.mintToken().then(
        (token) => response.writeHead(200, { 'content-type': 'text/plain' }).end(token),
        (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    const page = pages.get(path);
    // Any other path is a page of the app, where a notification's data.url may lead.
    const body = page?.replaceAll(EXAMPLE_HERALD, host.herald) ?? `<!doctype html><html lang="en"><title>${path}</title><h1>${path}</h1></html>`;
    response.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return host;
}
