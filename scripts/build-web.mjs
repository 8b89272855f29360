// Bundles the inbox page (web/src/main.ts, which imports client/src) into web/dist/app.js
// and copies the static files next to it. Herald serves web/dist/ at GET /.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const out = join(web, 'dist');

// esbuild strips types without checking them; the page has its own DOM tsconfig.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
} catch {
  process.exit(1);
}

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

try {
  const result = await build({
    entryPoints: [join(web, 'src', 'main.ts')],
    outfile: join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
    absWorkingDir: root,
  });
  if (result.errors.length > 0) process.exit(1);
} catch {
  // esbuild already printed the errors.
  process.exit(1);
}

for (const file of ['index.html', 'styles.css']) {
  await copyFile(join(web, file), join(out, file));
}
console.log(`web: built ${out}`);
