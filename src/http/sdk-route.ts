// GET /herald-client.js: the client SDK as one browser ES module (built by client/build.mjs),
// for pages without a bundler: `import { createHeraldClient } from '/herald-client.js'`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../errors.js';

export const SDK_BUNDLE = fileURLToPath(new URL('../../../client/dist/browser/herald-client.js', import.meta.url));

export function sdkRoute(app: FastifyInstance, bundlePath = SDK_BUNDLE): void {
  // Read on first request, then served from memory: the file only changes with a rebuild,
  // which restarts the server anyway.
  let bundle: Promise<Buffer> | null = null;
  app.get('/herald-client.js', async (_request, reply) => {
    bundle ??= readFile(bundlePath);
    const body = await bundle.catch(() => {
      bundle = null;
      throw new HeraldError('not_found', 'The client SDK is not built (npm run build).');
    });
    return reply
      .type('text/javascript; charset=utf-8')
      // A new SDK reaches pages within minutes of a deploy.
      .header('cache-control', 'public, max-age=300')
      // Module scripts are fetched in CORS mode: a page on another origin may import this
      // public file (without credentials), as it would from a CDN.
      .header('access-control-allow-origin', '*')
      .send(body);
  });
}
