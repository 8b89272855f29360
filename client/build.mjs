// Builds the package: ESM JavaScript with type declarations in dist/ (tsc), plus one
// self-contained browser module, dist/browser/herald-client.js (esbuild, eventsource-parser
// included), which Herald serves at GET /herald-client.js for pages without a bundler, and
// dist/browser/herald-inbox.js, the <herald-inbox> element with the SDK inside, served at
// GET /herald-inbox.js, and dist/browser/herald-sw.js, the Web Push service worker (a classic
// script, so other origins' workers can importScripts it), served at GET /herald-sw.js.
// Run by `npm pack` (prepack) and by the repository's `npm run build`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
// Built beside dist/ and swapped in at the end: a server or test reading dist/ while
// `npm pack` rebuilds it never sees a half-written file.
const next = join(here, `dist.${process.pid}`);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json'), '--outDir', next], { stdio: 'inherit' });
} catch {
  await rm(next, { recursive: true, force: true });
  process.exit(1);
}

const browserModule = (entry, file, format = 'esm') =>
  build({
    entryPoints: [join(here, 'src', ...entry)],
    outfile: join(next, 'browser', file),
    bundle: true,
    format,
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
try {
  await browserModule(['index.ts'], 'herald-client.js');
  await browserModule(['element', 'herald-inbox.ts'], 'herald-inbox.js');
  await browserModule(['sw', 'herald-sw.ts'], 'herald-sw.js', 'iife');
} catch {
  // esbuild already printed the errors.
  await rm(next, { recursive: true, force: true });
  process.exit(1);
}
const old = join(here, `dist.old.${process.pid}`);
await rename(out, old).catch(() => {});
await rename(next, out);
await rm(old, { recursive: true, force: true });
console.log(`client: built ${out}`);
