// The runbook (docs/operations.md) keeps up with the code: every alert has the section its
// summary links to, and every metric Herald defines is explained.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Metrics } from '../../src/metrics.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const runbook = readFileSync(`${ROOT}docs/operations.md`, 'utf8');
const alerts = (parse(readFileSync(`${ROOT}deploy/prometheus/alerts.yml`, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string }> }> })
  .groups.flatMap((g) => g.rules.map((r) => r.alert));

for (const alert of alerts) {
  test(`the runbook has a section for ${alert} (the anchor its summary links to)`, () => {
    assert.match(runbook, new RegExp(`^### ${alert}$`, 'm'));
  });
}

test('every metric Herald defines (besides the prom-client process and Node.js ones) has a row in the runbook\'s metrics table', async () => {
  const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name)
    .filter((n) => !n.startsWith('herald_process_') && !n.startsWith('herald_nodejs_'));
  assert.ok(names.length > 15);
  assert.deepEqual(names.filter((n) => !new RegExp(`^\\| \`${n}[{\`]`, 'm').test(runbook)), []);
});

test('the README\'s Operations section points to the runbook', () => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('\n## Operations'), readme.indexOf('\n## ', readme.indexOf('\n## Operations') + 1));
  assert.ok(section.includes('[docs/operations.md](docs/operations.md)'));
});
