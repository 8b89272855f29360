// Every error code Herald can answer is documented where clients look: README's table of
// codes and the OpenAPI answers of the routes (a status a route may give lists its codes).
// A new code in src/errors.ts fails here until both name it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ERRORS } from '../../src/errors.js';
import { startHerald, type RunningHerald } from '../../src/main.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

describe('error codes in the README', () => {
  for (const code of Object.keys(ERRORS)) {
    test(`README names \`${code}\` with its status ${ERRORS[code as keyof typeof ERRORS].status}`, () => {
      assert.ok(README.includes(`\`${code}\``), `README.md does not name \`${code}\``);
    });
  }
});

describe('error codes in the OpenAPI answers', () => {
  let herald: RunningHerald;
  let dir: string;
  /** Every description of an error answer in the document, joined. */
  let described = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'herald-codes-'));
    herald = await startHerald(loadConfig({ HERALD_PORT: '0', HERALD_DATABASE_URL: join(dir, 'herald.db'), HERALD_LOG_LEVEL: 'silent', HERALD_DRAIN_MS: '0', HERALD_DEV_MODE: 'true' }));
    const doc = (await (await fetch(`${herald.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses?: Record<string, { description?: string }> }>> };
    described = Object.values(doc.paths).flatMap((methods) => Object.values(methods))
      .flatMap((operation) => Object.entries(operation.responses ?? {}).filter(([status]) => /^[45]/.test(status)).map(([, answer]) => answer.description ?? ''))
      .join('\n');
  });
  after(async () => {
    await herald?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const code of Object.keys(ERRORS)) {
    test(`some route's ${ERRORS[code as keyof typeof ERRORS].status} answer names \`${code}\``, () => {
      assert.match(described, new RegExp(`\\b${code}\\b`), `no route's OpenAPI answers list ${code}`);
    });
  }
});
