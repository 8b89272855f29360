// Builds the framework packages, @herald/react and @herald/vue (or those named:
// `node client/packages/build.mjs react`): ESM JavaScript with declarations from each
// package's src/ (tsc, its tsconfig.json), not bundled: the application's bundler brings
// React or Vue and the SDK once. They compile against the SDK's built declarations
// (client/dist), so client/build.mjs runs first.
// Run by `npm pack` in a package (prepack) and by the repository's `npm run build`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = process.argv.length > 2 ? process.argv.slice(2) : ['react', 'vue'];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

if (!existsSync(join(here, '..', 'dist', 'index.d.ts'))) {
  console.error('client/packages: build the SDK first (node client/build.mjs): the packages compile against client/dist');
  process.exit(1);
}

for (const name of names) {
  const dir = join(here, name);
  const out = join(dir, 'dist');
  // Built beside dist/ and swapped in at the end, as client/build.mjs does: a test packing
  // the package while another rebuilds it never sees a half-written dist/.
  const next = join(dir, `dist.${process.pid}`);
  try {
    execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--outDir', next], { stdio: 'inherit' });
  } catch {
    await rm(next, { recursive: true, force: true });
    process.exit(1);
  }
  const old = join(dir, `dist.old.${process.pid}`);
  await rename(out, old).catch(() => {});
  await rename(next, out);
  await rm(old, { recursive: true, force: true });
  console.log(`client/packages: built ${out}`);
}
