// The hostile-input table: every case run records its input, expected and actual answer,
// and the run writes them into docs/security.md between the generated-table markers.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';

export interface Row {
  group: string;
  input: string;
  expected: string;
  actual: string;
}

export const rows: Row[] = [];
/** Every row declared, run or not. */
export const declared: string[] = [];

/** A table row: runs `run`, whose answer must equal `expected` exactly. */
export function hostile(group: string, input: string, expected: string, run: () => Promise<string>): void {
  declared.push(`${group}: ${input}`);
  test(`${group}: ${input}`, async () => {
    let actual: string;
    try {
      actual = await run();
    } catch (err) {
      actual = `threw: ${(err as Error).message.split('\n')[0]}`;
    }
    rows.push({ group, input, expected, actual });
    assert.equal(actual, expected);
  });
}

const DOC = fileURLToPath(new URL('../../../docs/security.md', import.meta.url));
const BEGIN = '<!-- BEGIN GENERATED: hostile inputs (written by test/security/hostile-inputs.test.ts) -->';
const END = '<!-- END GENERATED -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\0/g, '\\0');
}

/** Only `npm run docs` rewrites the tracked document; a test run leaves the tree as it was. */
export function writeSecurityDoc(notes: string[]): void {
  if (process.env.HERALD_WRITE_DOCS !== '1') return;
  const passed = rows.filter((r) => r.actual === r.expected).length;
  const controls = rows.filter((r) => r.input.startsWith('control:')).length;
  const lines = [
    BEGIN,
    '',
    `${rows.length - controls} hostile inputs and ${controls} controls (valid requests that must still work) tried; ` +
      `${passed} of ${rows.length} answered exactly as expected (last run: ${new Date().toISOString().slice(0, 10)}).`,
    '',
    '| # | group | hostile input | expected | actual |',
    '|---|---|---|---|---|',
    ...rows.map((r, i) => `| ${i + 1} | ${cell(r.group)} | ${cell(r.input)} | ${cell(r.expected)} | ${cell(r.actual)}${r.actual === r.expected ? '' : ' **FAIL**'} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    END,
  ].join('\n');
  let doc = '';
  try { doc = readFileSync(DOC, 'utf8'); } catch { doc = '# Herald security\n\n'; }
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  doc = start !== -1 && end > start ? doc.slice(0, start) + lines + doc.slice(end + END.length) : `${doc.trimEnd()}\n\n${lines}\n`;
  writeFileSync(DOC, doc);
}
