// GET /herald-inbox.js: the <herald-inbox> custom element as one browser ES module (built by
// client/build.mjs, the SDK inside), for any page on any origin:
// `<script type="module" src="https://herald.example/herald-inbox.js"></script>`.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { HeraldError } from '../errors.js';

export const INBOX_ELEMENT_BUNDLE = fileURLToPath(new URL('../../../client/dist/browser/herald-inbox.js', import.meta.url));

export function inboxElementRoute(app: FastifyInstance, bundlePath = INBOX_ELEMENT_BUNDLE): void {
  // Read on first request, then served from memory: the file only changes with a rebuild,
  // which restarts the server anyway.
  let bundle: Promise<Buffer> | null = null;
  app.get('/herald-inbox.js', async (_request, reply) => {
    bundle ??= readFile(bundlePath);
    const body = await bundle.catch(() => {
      bundle = null;
      throw new HeraldError('not_found', 'The inbox element is not built (npm run build).');
    });
    return reply
      .type('text/javascript; charset=utf-8')
      // A new element reaches pages within minutes of a deploy.
      .header('cache-control', 'public, max-age=300')
      // The host page is on another origin and module scripts are fetched in CORS mode: any
      // page may load this public file (without credentials), as it would from a CDN. Its
      // API calls are what HERALD_CORS_ORIGINS governs.
      .header('access-control-allow-origin', '*')
      // Helmet's default (same-origin) would be wrong for a file meant to be embedded anywhere.
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(body);
  });
}
