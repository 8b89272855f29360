// @herald/react and @herald/vue as a newcomer gets them: `npm pack` in each package (its
// prepack builds it), installed with the SDK's tarball and React and Vue from the registry
// in one fresh project outside the repository; then what they ship, their size, their
// types and their server-side rendering. The apps built with Vite from the same tarballs
// run in Chromium in test/browser/react-app.test.ts and vue-app.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { npm, packPackages, pinnedVersion, type HeraldPackage } from '../helpers/framework-apps.js';

/** Each framework package's own code, minified and gzipped, without React/Vue and the SDK. */
const MAX_OWN_GZIPPED_BYTES = 5 * 1024;

const work = mkdtempSync(join(tmpdir(), 'herald-frameworks-'));
const app = join(work, 'app');
let tarballs: Record<HeraldPackage, string>;

before(() => {
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  // The SDK as `npm run build` made it (sdk-package.test.ts packs it with its prepack).
  tarballs = { ...packPackages(work, ['client'], { build: false }), ...packPackages(work, ['react', 'vue']) };
  mkdirSync(app);
  npm(['init', '-y'], app);
  // An ES module project, as the packages are ESM only.
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')), type: 'module' }, null, 2));
  const registry = ['react', 'react-dom', 'vue', '@types/react'].map((name) => `${name}@${pinnedVersion(name)}`);
  npm(['install', '--prefer-offline', tarballs.client, tarballs.react, tarballs.vue, ...registry], app);
});

function listing(tarball: string): string[] {
  return spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}

function manifest(name: string): { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8'));
}

function assertShipsBuiltCode(tarball: string): void {
  const files = listing(tarball);
  for (const file of ['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts']) {
    assert.ok(files.includes(file), `${file} is in the tarball (${files.join(', ')})`);
  }
  assert.deepEqual(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
}

test("@herald/react's tarball holds built JavaScript, declarations, the README and the licence, not the sources", () => {
  assertShipsBuiltCode(tarballs.react);
});

test("@herald/vue's tarball holds built JavaScript, declarations, the README and the licence, not the sources", () => {
  assertShipsBuiltCode(tarballs.vue);
});

test('the packages take React, Vue and the SDK as peers, so the app installs one @herald/client', () => {
  const react = manifest('@herald/react');
  const vue = manifest('@herald/vue');
  assert.equal(react.dependencies, undefined);
  assert.equal(vue.dependencies, undefined);
  assert.deepEqual(Object.keys(react.peerDependencies ?? {}).sort(), ['@herald/client', '@types/react', 'react']);
  assert.deepEqual(Object.keys(vue.peerDependencies ?? {}).sort(), ['@herald/client', 'vue']);
  for (const name of ['@herald/react', '@herald/vue']) {
    assert.equal(existsSync(join(app, 'node_modules', name, 'node_modules')), false, `${name} has no nested node_modules`);
  }
  const copies = spawnSync('npm', ['ls', '@herald/client', '--all', '--parseable'], { cwd: app, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  assert.deepEqual(copies, [join(app, 'node_modules', '@herald', 'client')]);
});

async function ownGzippedBytes(entry: string): Promise<number> {
  const result = await build({
    stdin: { contents: `export * from '${entry}';\n`, resolveDir: app, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    write: false,
    logLevel: 'silent',
    external: ['react', 'react/*', 'vue', '@herald/client', '@herald/client/*'],
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return gzipSync(code, { level: 9 }).length;
}

test("@herald/react's own code is at most 5 KiB gzipped", async () => {
  const bytes = await ownGzippedBytes('@herald/react');
  console.log(`# @herald/react: ${bytes} bytes gzipped (minified, without React and the SDK)`);
  assert.ok(bytes <= MAX_OWN_GZIPPED_BYTES, `${bytes} bytes`);
});

test("@herald/vue's own code is at most 5 KiB gzipped", async () => {
  const bytes = await ownGzippedBytes('@herald/vue');
  console.log(`# @herald/vue: ${bytes} bytes gzipped (minified, without Vue and the SDK)`);
  assert.ok(bytes <= MAX_OWN_GZIPPED_BYTES, `${bytes} bytes`);
});

test('an app using the SDK, @herald/react and @herald/vue together bundles the SDK once', async () => {
  const bundle = async (contents: string) => {
    const result = await build({
      stdin: { contents, resolveDir: app, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
      external: ['react', 'react/*', 'vue', '@herald/client/element'],
    });
    return result.outputFiles[0]?.text ?? '';
  };
  // The SDK names the Web Lock and the channel its tabs share a stream with: once each per copy.
  const copies = (code: string) => code.split('`herald-stream-${').length - 1;
  const sdkAlone = copies(await bundle("export * from '@herald/client';\n"));
  assert.ok(sdkAlone > 0, 'the marker is in the SDK');
  const together = await bundle("export * as sdk from '@herald/client';\nexport * as react from '@herald/react';\nexport * as vue from '@herald/vue';\n");
  assert.equal(copies(together), sdkAlone);
});

function typecheck(file: string, source: string, options: Record<string, unknown> = {}): void {
  writeFileSync(join(app, file), source);
  const config = join(app, `tsconfig.${file}.json`);
  writeFileSync(config, JSON.stringify({
    compilerOptions: { noEmit: true, strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'dom'], types: [], ...options },
    files: [file],
  }));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', config], { cwd: app, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
}

test("@herald/react's declarations type an app's components, and catch a wrong prop", () => {
  typecheck('check-react.tsx', [
    "import type { HeraldClient, HeraldNotification, StreamState } from '@herald/client';",
    "import { HeraldInbox, HeraldProvider, useConnectionState, useHeraldClient, useNotifications, useUnreadCount, type NotificationsView } from '@herald/react';",
    '',
    'function Badge() {',
    '  const count: number | null = useUnreadCount();',
    '  return <b>{count}</b>;',
    '}',
    'function Feed() {',
    "  const view: NotificationsView = useNotifications({ status: 'unread', pageSize: 20 });",
    '  const first: HeraldNotification | undefined = view.items[0];',
    "  const snoozed: Promise<void> = view.snooze(first?.id ?? '', new Date());",
    '  const state: StreamState | null = useConnectionState();',
    '  const client: HeraldClient | null = useHeraldClient();',
    '  void snoozed;',
    '  void client;',
    "  return <p>{state} {view.loaded ? view.items.length : '…'}</p>;",
    '}',
    'export function App() {',
    '  return (',
    '    <HeraldProvider server="https://herald.example.com" getToken={async () => \'jwt\'} user="alice">',
    '      <HeraldInbox theme="dark" allowedOrigins="self" className="bell" onOpen={(n, href, event) => { if (href) location.assign(href); event.preventDefault(); void n.id; }} />',
    '      <Badge />',
    '      <Feed />',
    '    </HeraldProvider>',
    '  );',
    '}',
    '// @ts-expect-error -- theme is light or dark',
    'export const wrong = <HeraldInbox theme="blue" />;',
    '',
  ].join('\n'), { jsx: 'react-jsx' });
});

test("@herald/vue's declarations type an app's setup, and catch a wrong use", () => {
  typecheck('check-vue.ts', [
    "import type { HeraldNotification, StreamState } from '@herald/client';",
    "import { createHerald, HeraldInbox, useConnectionState, useHeraldClient, useNotifications, useUnreadCount } from '@herald/vue';",
    "import { createApp, defineComponent, h } from 'vue';",
    '',
    'const Feed = defineComponent({',
    '  setup() {',
    '    const count = useUnreadCount();',
    "    const { items, loaded, snooze } = useNotifications({ archived: true });",
    '    const state = useConnectionState();',
    '    const client = useHeraldClient();',
    '    const woken: Promise<void> = snooze(items.value[0]?.id ?? \'\', null);',
    '    void woken;',
    '    return () => [',
    '      h(HeraldInbox, { onOpen: (n: HeraldNotification, href: string | undefined) => { if (href) location.assign(href); void n.id; } }),',
    '      h("b", String(count.value satisfies number | null)),',
    '      h("s", String(state.value satisfies StreamState | null) + String(client.value === null)),',
    '      loaded.value ? h("ul", items.value.map((n: HeraldNotification) => h("li", n.content))) : null,',
    '    ];',
    '  },',
    '});',
    "createApp(Feed).use(createHerald({ server: 'https://herald.example.com', getToken: async () => 'jwt', user: 'alice' }));",
    '// @ts-expect-error -- getToken is required',
    "createHerald({ server: 'https://herald.example.com' });",
    'export function misuse() {',
    '  // @ts-expect-error -- the refs are the store\'s, read-only',
    '  useUnreadCount().value = 3;',
    '}',
    '',
  ].join('\n'));
});

/**
 * Runs `script` in a fresh Node process from the app's folder. After React or Vue is loaded,
 * every browser global (and `fetch`) reports a touch: the packages are imported and
 * rendered after that, so what `touched` lists is theirs.
 */
function runServerRender(file: string, frameworkImports: string, render: string): { html: string; touched: string[] } {
  const script = [
    frameworkImports,
    'const touched = [];',
    "for (const name of ['window', 'document', 'location', 'localStorage', 'sessionStorage', 'customElements', 'HTMLElement', 'BroadcastChannel', 'EventSource', 'fetch', 'navigator', 'addEventListener']) {",
    '  const original = Object.getOwnPropertyDescriptor(globalThis, name);',
    '  Object.defineProperty(globalThis, name, { configurable: true, get() { touched.push(name); return original?.get ? original.get.call(globalThis) : original?.value; } });',
    '}',
    render,
    'console.log(JSON.stringify({ html, touched }));',
    '',
  ].join('\n');
  writeFileSync(join(app, file), script);
  const result = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as { html: string; touched: string[] };
}

test("React's renderToString of <HeraldProvider>, <HeraldInbox> and every hook renders only the empty values and touches no browser global", () => {
  const { html, touched } = runServerRender('ssr-react.mjs', [
    "import { createElement as h } from 'react';",
    "import { renderToString } from 'react-dom/server';",
  ].join('\n'), [
    "const { HeraldInbox, HeraldProvider, useConnectionState, useHeraldClient, useNotifications, useUnreadCount } = await import('@herald/react');",
    "const Badge = () => h('b', null, `unread: ${useUnreadCount()}`);",
    "const Feed = () => { const { items, loaded } = useNotifications(); return h('ul', { 'data-loaded': String(loaded) }, items.map((n) => h('li', { key: n.id }, n.content))); };",
    "const Client = () => h('i', null, useHeraldClient() === null ? 'no client' : 'client');",
    "const State = () => h('s', null, `state: ${useConnectionState()}`);",
    "const getToken = () => { touched.push('getToken'); return 'jwt'; };",
    "const html = renderToString(h(HeraldProvider, { server: 'https://herald.example.com', getToken, user: 'alice' }, h(HeraldInbox), h(Badge), h(Feed), h(Client), h(State)));",
  ].join('\n'));
  assert.equal(html, '<b>unread: null</b><ul data-loaded="false"></ul><i>no client</i><s>state: null</s>');
  assert.deepEqual(touched, []);
});

test("Vue's renderToString of an app with createHerald, <HeraldInbox> and every composable renders only the empty values and touches no browser global", () => {
  const { html, touched } = runServerRender('ssr-vue.mjs', [
    "import { createSSRApp, defineComponent, h } from 'vue';",
    "import { renderToString } from 'vue/server-renderer';",
    "// Vue's renderer looks for its devtools hook on window once, when it is first made: before the traps.",
    'createSSRApp({ render: () => null });',
  ].join('\n'), [
    "const { createHerald, HeraldInbox, useConnectionState, useHeraldClient, useNotifications, useUnreadCount } = await import('@herald/vue');",
    'const App = defineComponent({',
    '  setup() {',
    '    const count = useUnreadCount();',
    '    const { items, loaded } = useNotifications();',
    '    const client = useHeraldClient();',
    '    const state = useConnectionState();',
    "    return () => [h(HeraldInbox), h('b', `unread: ${count.value}`), h('ul', { 'data-loaded': String(loaded.value) }, items.value.map((n) => h('li', { key: n.id }, n.content))), h('i', client.value === null ? 'no client' : 'client'), h('s', `state: ${state.value}`)];",
    '  },',
    '});',
    "const getToken = () => { touched.push('getToken'); return 'jwt'; };",
    "const html = await renderToString(createSSRApp(App).use(createHerald({ server: 'https://herald.example.com', getToken, user: 'alice' })));",
  ].join('\n'));
  assert.equal(html, '<!--[--><!----><b>unread: null</b><ul data-loaded="false"></ul><i>no client</i><s>state: null</s><!--]-->');
  assert.deepEqual(touched, []);
});
