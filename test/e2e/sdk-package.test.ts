// The SDK as a newcomer gets it: `npm pack` in client/, `npm init -y && npm i <tarball>` in
// a fresh project, then the README's example run as written against a real Herald, its
// types checked, and the package bundled by esbuild for the browser.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startHerald } from '../helpers/herald.js';
import { startProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLIENT = join(REPO, 'client');
const README = join(CLIENT, 'README.md');
const work = mkdtempSync(join(tmpdir(), 'herald-sdk-'));
const app = join(work, 'app');
let tarball = '';

function npm(args: string[], cwd: string) {
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } });
  assert.equal(result.status, 0, `npm ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

before(() => {
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  npm(['pack', '--pack-destination', work], CLIENT);
  tarball = readdirSync(work).find((f) => /^herald-client-.+\.tgz$/.test(f)) ?? '';
  assert.ok(tarball, `npm pack wrote no herald-client-*.tgz in ${work}`);
  mkdirSync(app);
  npm(['init', '-y'], app);
  // The runtime dependencies (eventsource-parser for the stream, @floating-ui/dom for the
  // element's panel) are in the npm cache after `npm ci`.
  npm(['install', '--prefer-offline', join(work, tarball)], app);
});

test('the packed tarball holds built JavaScript, declarations and the README, not the sources', () => {
  const listing = spawnSync('tar', ['-tzf', join(work, tarball)], { encoding: 'utf8' }).stdout.split('\n');
  for (const file of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/browser/herald-client.js']) {
    assert.ok(listing.includes(file), `${file} is in the tarball`);
  }
  assert.equal(listing.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).length, 0, 'no TypeScript sources');
  const manifest = JSON.parse(readFileSync(join(app, 'node_modules', '@herald', 'client', 'package.json'), 'utf8'));
  assert.deepEqual(Object.keys(manifest.dependencies), ['@floating-ui/dom', 'eventsource-parser']);
});

test("the README's example runs as written in a fresh project and prints a published notification", async (t) => {
  const block = /```js\n([\s\S]*?)```/.exec(readFileSync(README, 'utf8'))?.[1];
  assert.ok(block?.includes("from '@herald/client'"), 'the first js block of client/README.md imports the package');
  writeFileSync(join(app, 'follow.mjs'), block ?? '');
  const server = await startHerald();
  t.after(() => server.stop());
  const token = await server.token('alice');
  const run = startProc(t, process.execPath, ['follow.mjs'], { cwd: app, env: { PATH: process.env.PATH, HERALD_URL: server.url, HERALD_TOKEN: token } });
  await waitFor(() => run.stdout().includes('state: open') && run.stdout().includes('unread: 0'), () => `the example to connect (stdout: ${run.stdout()} stderr: ${run.stderr()})`);
  assert.equal((await server.publish({ recipients: ['alice'], type: 'alert', content: 'from the packed SDK' })).status, 202);
  await waitFor(() => run.stdout().includes('[alert] from the packed SDK (unread: 1)'), 'the example to print the notification');
});

test('the declarations resolve through the exports map for a TypeScript project (NodeNext)', () => {
  writeFileSync(join(app, 'check.ts'), [
    "import { createHeraldClient, type HeraldNotification, type StreamState } from '@herald/client';",
    "const client = createHeraldClient({ url: 'http://127.0.0.1:8080', getToken: () => 'jwt' });",
    "const state: StreamState = client.stream.state;",
    "const first: Promise<HeraldNotification | undefined> = client.inbox.list({ limit: 1 }).then((page) => page.items[0]);",
    'export { first, state };',
    '',
  ].join('\n'));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [] },
    files: ['check.ts'],
  }));
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

test('esbuild bundles the installed package for the browser', async () => {
  writeFileSync(join(app, 'page.js'), "import { createHeraldClient } from '@herald/client';\nglobalThis.herald = createHeraldClient;\n");
  const result = await build({ entryPoints: [join(app, 'page.js')], bundle: true, platform: 'browser', format: 'esm', write: false, absWorkingDir: app, logLevel: 'silent' });
  assert.deepEqual(result.errors, []);
  assert.deepEqual(result.warnings, []);
  const code = result.outputFiles[0]?.text ?? '';
  assert.match(code, /createParser/, 'eventsource-parser is bundled in');
  assert.doesNotMatch(code, /from\s*["']node:/, 'no Node built-in is imported');
});

test("import '@herald/client/element' bundles the element for the browser (it registers <herald-inbox>, so it is not shaken out)", async () => {
  writeFileSync(join(app, 'element-page.js'), "import '@herald/client/element';\n");
  const result = await build({ entryPoints: [join(app, 'element-page.js')], bundle: true, platform: 'browser', format: 'esm', write: false, absWorkingDir: app, logLevel: 'silent' });
  assert.deepEqual(result.errors, []);
  assert.match(result.outputFiles[0]?.text ?? '', /customElements\.define\(\s*["']herald-inbox["']/);
});
