// The OpenAPI document Herald generates from its route schemas (GET /openapi.json), checked
// with a real validator (@readme/openapi-parser) and against the routes the running app
// really has, and the reference page (GET /docs) with every asset served by Herald.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileErrors, dereference, validate } from '@readme/openapi-parser';
import { loadConfig } from '../../src/config.js';
import { startHerald, type RunningHerald } from '../../src/main.js';

// The parts of the document the tests read.
interface Operation {
  summary?: string;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>;
}
interface Document { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>> }

/** Routes of the running app, from Fastify's route tree: `[METHOD, /path/{param}]`. */
function routesOf(tree: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)(?:├── |└── )(.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const [, indent, segment, methods] = match as unknown as [string, string, string, string];
    const depth = indent.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + segment;
    stack.push(path);
    for (const method of methods.split(', ')) if (method !== 'HEAD') out.push([method, path.replace(/:(\w+)/g, '{$1}')]);
  }
  return out;
}

const API = /^\/(v1\/|healthz$|readyz$|metrics$)/;

describe('OpenAPI document and reference page', () => {
  let herald: RunningHerald;
  let dir: string;
  let doc: Document;
  let routes: Array<[string, string]>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-openapi-'));
    // Development mode, so the development-only route is served (and must be described) too.
    herald = await startHerald(loadConfig({ HERALD_PORT: '0', HERALD_DATABASE_URL: join(dir, 'herald.db'), HERALD_LOG_LEVEL: 'silent', HERALD_DRAIN_MS: '0', HERALD_DEV_MODE: 'true' }));
    const res = await fetch(`${herald.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Document;
    routes = routesOf(herald.app.printRoutes({ commonPrefix: false })).filter(([, path]) => API.test(path));
  });
  after(async () => {
    await herald?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('info.version and /healthz give Herald\'s version from package.json', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(doc.info.version, version);
    assert.deepEqual(await (await fetch(`${herald.url}/healthz`)).json(), { status: 'ok', version });
  });

  test('the document is valid OpenAPI 3.1 for @readme/openapi-parser, without warnings', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const result = await validate(structuredClone(doc) as never);
    assert.equal(result.valid, true, compileErrors(result));
    assert.deepEqual(result.warnings, [], compileErrors(result));
  });

  test('the app serves the API routes the tests expect to find (the route tree is read correctly)', () => {
    for (const route of [['GET', '/v1/stream'], ['POST', '/v1/notifications'], ['PATCH', '/v1/notifications/{id}'], ['GET', '/readyz'], ['POST', '/v1/dev/token']]) {
      assert.ok(routes.some(([m, p]) => m === route[0] && p === route[1]), route.join(' '));
    }
  });

  test('the document describes no route the app does not serve', () => {
    const served = new Set(routes.map(([m, p]) => `${m} ${p}`));
    const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    assert.deepEqual(described.filter((d) => !served.has(d)), []);
  });

  describe('every route the app serves is described with a summary, its answers and its error codes', () => {
    // Read lazily: the routes are known once before() has run.
    test('each route', async (t) => {
      for (const [method, path] of routes) {
        await t.test(`${method} ${path}`, () => {
          const op = doc.paths[path]?.[method.toLowerCase()];
          assert.ok(op, 'described');
          assert.ok(op.summary && op.summary.length > 10, 'summary');
          const statuses = Object.keys(op.responses);
          assert.ok(statuses.some((s) => /^2\d\d$/.test(s)), `a success answer in ${statuses}`);
          if (path.startsWith('/v1/') && path !== '/v1/dev/token' && !(method === 'DELETE' && path === '/v1/session')) {
            assert.ok(statuses.includes('401'), `401 in ${statuses}`);
          }
          for (const status of statuses.filter((s) => /^[45]\d\d$/.test(s))) {
            const schema = op.responses[status]?.content?.['application/json']?.schema;
            assert.ok(schema?.properties?.error, `${status} answers {"error":{"code","message"}}`);
          }
        });
      }
    });
  });

  test('request schemas: the publish body, the state change body, and the inbox and stream parameters are described', () => {
    const publish = doc.paths['/v1/notifications']?.post?.requestBody?.content['application/json']?.schema.properties ?? {};
    assert.deepEqual(['recipients', 'topic', 'type', 'title', 'content', 'data', 'idempotency_key', 'deliver_at', 'expires_at'].filter((f) => !(f in publish)), []);
    const patch = doc.paths['/v1/notifications/{id}']?.patch;
    assert.deepEqual(Object.keys(patch?.requestBody?.content['application/json']?.schema.properties ?? {}).sort(), ['archived', 'seen', 'snoozed_until', 'status']);
    assert.ok(patch?.parameters?.some((p) => p.name === 'id' && p.in === 'path'));
    const inbox = (doc.paths['/v1/notifications']?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
    assert.deepEqual(inbox, ['archived', 'cursor', 'limit', 'status', 'type']);
    const stream = (doc.paths['/v1/stream']?.get?.parameters ?? []).map((p) => p.name).sort();
    assert.deepEqual(stream, ['access_token', 'last_event_id', 'ticket']);
  });

  test('answers are described field by field: an inbox page lists its notifications\' fields', async () => {
    const resolved = (await dereference(structuredClone(doc) as never)) as unknown as Document;
    const page = resolved.paths['/v1/notifications']?.get?.responses['200']?.content?.['application/json']?.schema.properties ?? {};
    assert.deepEqual(Object.keys(page).sort(), ['items', 'next_cursor', 'unread_count']);
    const item = (page.items as { items: { properties: Record<string, unknown> } }).items.properties;
    assert.deepEqual(Object.keys(item).sort(), ['archived_at', 'content', 'created_at', 'data', 'expires_at', 'id', 'read_at', 'recipient', 'seen_at', 'snoozed_until', 'status', 'title', 'topic', 'type']);
  });

  test('GET /docs is a reference page whose every script and stylesheet Herald serves itself', async () => {
    const res = await fetch(`${herald.url}/docs/`);
    assert.equal(res.status, 200);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(assets.length >= 3, `assets: ${assets}`);
    assert.deepEqual(assets.filter((a) => /^(https?:)?\/\//.test(a)), [], 'nothing from the network');
    for (const asset of assets) {
      const answer = await fetch(new URL(asset, `${herald.url}/docs/`));
      assert.equal(answer.status, 200, asset);
      await answer.arrayBuffer();
    }
    const init = await (await fetch(`${herald.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(init, /url: resolveUrl\('\.\/json'\)/, 'the page loads its spec from Herald');
    assert.equal((await fetch(`${herald.url}/docs/json`)).status, 200);
  });
});
