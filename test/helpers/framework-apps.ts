// The framework packages as a newcomer gets them: `npm pack` of @herald/client, @herald/react
// and @herald/vue, installed from the tarballs in a fresh folder outside the repository,
// with React, Vue and Vite from the registry (at the versions the repository's lockfile
// pins, so `npm ci` has already put them in the npm cache); the example apps of
// client/examples/ copied there, built with their own `npm run build` (Vite) and served
// by a stand-in for the app's backend.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Where each package is built and packed from. */
const PACKAGE_DIRS = { client: 'client', react: 'client/packages/react', vue: 'client/packages/vue' } as const;
export type HeraldPackage = keyof typeof PACKAGE_DIRS;

/** The Herald address written in the examples, replaced by the one under test when served. */
const EXAMPLE_HERALD = 'http://127.0.0.1:8080';

export function npm(args: string[], cwd: string): string {
  const result = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  assert.equal(result.status, 0, `npm ${args.join(' ')} in ${cwd} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/**
 * Packs the packages into `dir` and returns each tarball's path. `build: false` packs the
 * dist/ that `npm run build` made (no prepack), so a file that only needs the tarballs does
 * not rebuild under another test file packing at the same time.
 */
export function packPackages(dir: string, names: HeraldPackage[], options: { build?: boolean } = {}): Record<HeraldPackage, string> {
  const tarballs = {} as Record<HeraldPackage, string>;
  for (const name of names) {
    const source = join(REPO, PACKAGE_DIRS[name]);
    if (options.build === false) {
      assert.ok(existsSync(join(source, 'dist', 'index.js')), `${PACKAGE_DIRS[name]}/dist is missing: run npm run build first`);
    }
    const before = new Set(readdirSync(dir));
    npm(['pack', '--pack-destination', dir, ...(options.build === false ? ['--ignore-scripts'] : [])], source);
    const tarball = readdirSync(dir).find((file) => !before.has(file) && file.endsWith('.tgz'));
    assert.ok(tarball, `npm pack in ${PACKAGE_DIRS[name]} wrote no tarball in ${dir}`);
    tarballs[name] = join(dir, tarball);
  }
  return tarballs;
}

/** The version of `name` the repository's lockfile installed (root devDependencies). */
export function pinnedVersion(name: string): string {
  const manifest = join(REPO, 'node_modules', name, 'package.json');
  assert.ok(existsSync(manifest), `${name} is not installed at the repository root: add it to the root devDependencies`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Dependencies from the registry at the lockfile's versions, the Herald packages from their tarballs. */
function pinned(deps: Record<string, string> | undefined, tarballs: Partial<Record<HeraldPackage, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(deps ?? {})) {
    const herald = /^@herald\/(client|react|vue)$/.exec(name)?.[1] as HeraldPackage | undefined;
    if (herald) {
      const tarball = tarballs[herald];
      assert.ok(tarball, `no tarball packed for ${name}`);
      out[name] = `file:${tarball}`;
    } else {
      out[name] = pinnedVersion(name);
    }
  }
  return out;
}

/**
 * Copies client/examples/<example> into `dir` and installs it as its README says, with the
 * Herald packages from the tarballs; returns the app's folder.
 */
export function installExample(example: 'react' | 'vue', dir: string, tarballs: Partial<Record<HeraldPackage, string>>): string {
  const app = join(dir, `example-${example}`);
  cpSync(join(REPO, 'client', 'examples', example), app, {
    recursive: true,
    filter: (source) => !/[/\\](node_modules|dist)$/.test(source),
  });
  const manifestPath = join(app, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, Record<string, string> | undefined>;
  manifest.dependencies = pinned(manifest.dependencies, tarballs);
  manifest.devDependencies = pinned(manifest.devDependencies, tarballs);
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  npm(['install', '--prefer-offline'], app);
  return app;
}

/** Runs the example's `npm run build` (Vite) and returns its output folder. */
export function buildExample(app: string): string {
  npm(['run', 'build'], app);
  const dist = join(app, 'dist');
  assert.ok(existsSync(join(dist, 'index.html')), `vite build wrote no dist/index.html in ${app}`);
  return dist;
}

export interface ServedApp {
  /** The app's origin (what HERALD_CORS_ORIGINS must name). */
  origin: string;
  /** The Herald the served app talks to; set per test. */
  herald: string;
  /** Answers GET /herald-token, as the app's backend would for its signed-in user. */
  mintToken: () => Promise<string>;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Serves a built app from its own origin, with /herald-token and the Herald address of the test. */
export async function serveApp(dist: string): Promise<ServedApp> {
  const app: ServedApp = {
    origin: '',
    herald: '',
    mintToken: () => Promise.reject(new Error('no token minter set')),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://app').pathname;
    if (path === '/herald-token') {
      app.mintToken().then(
        (token) => response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(token),
        (err: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    const file = normalize(join(dist, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dist) || !existsSync(file) || !TYPES[extname(file)]) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const body = readFileSync(file, 'utf8').replaceAll(EXAMPLE_HERALD, app.herald);
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return app;
}
