// The browser ES modules Herald serves (built by client/build.mjs), for pages on any origin
// without a bundler:
//   GET /herald-client.js  the client SDK: `import { createHeraldClient } from '/herald-client.js'`
//   GET /herald-inbox.js   the <herald-inbox> element (the SDK inside):
//                          `<script type="module" src="https://herald.example/herald-inbox.js"></script>`
//   GET /herald-sw.js      the Web Push service worker (registered by `client.push.subscribe()`)
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../errors.js';

const BROWSER_DIR = new URL('../../../client/dist/browser/', import.meta.url);

const MODULES = [
  { path: '/herald-client.js', file: 'herald-client.js', what: 'The client SDK' },
  { path: '/herald-inbox.js', file: 'herald-inbox.js', what: 'The inbox element' },
  // Browsers check a worker for updates at least daily and bypass caches for it up to a day;
  // revalidating at once makes a new build reach subscribers at their next push.
  { path: '/herald-sw.js', file: 'herald-sw.js', what: 'The Web Push service worker', cacheControl: 'no-cache' },
];

export function browserModuleRoutes(app: FastifyInstance): void {
  for (const module of MODULES) serveModule(app, module.path, fileURLToPath(new URL(module.file, BROWSER_DIR)), module.what, module.cacheControl);
}

function serveModule(app: FastifyInstance, path: string, file: string, what: string, cacheControl = 'public, max-age=300'): void {
  // Read on first request, then served from memory: the file only changes with a rebuild,
  // which restarts the server anyway.
  let bundle: Promise<Buffer> | null = null;
  app.get(path, async (_request, reply) => {
    bundle ??= readFile(file);
    const body = await bundle.catch(() => {
      bundle = null;
      throw new HeraldError('not_found', `${what} is not built (npm run build).`);
    });
    return reply
      .type('text/javascript; charset=utf-8')
      // A new build reaches pages within minutes of a deploy.
      .header('cache-control', cacheControl)
      // Module scripts are fetched in CORS mode and the host page is on another origin: any
      // page may load these public files (without credentials), as from a CDN. Their API
      // calls are what HERALD_CORS_ORIGINS governs.
      .header('access-control-allow-origin', '*')
      // Helmet's default (same-origin) would be wrong for files meant to be embedded anywhere.
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(body);
  });
}
