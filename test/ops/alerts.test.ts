// The Prometheus alert rules in deploy/prometheus, checked and unit-tested by the real
// promtool (Debian's `prometheus` package): each group of alerts.test.yml is its own test,
// so a failure names the alert and the case.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);
const DIR = fileURLToPath(new URL('../../../deploy/prometheus/', import.meta.url));
const RULES = join(DIR, 'alerts.yml');

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface UnitTest { name: string; alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }

const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const unitFile = parse(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as { evaluation_interval: string; tests: UnitTest[] };
const work = mkdtempSync(join(tmpdir(), 'herald-promtool-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { timeout: 60_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

test('promtool check rules accepts alerts.yml', async () => {
  assert.match(await promtool('check', 'rules', RULES), /SUCCESS: \d+ rules found/);
});

test('promtool check config accepts the scrape config and finds the rules beside it', async () => {
  assert.match(await promtool('check', 'config', join(DIR, 'prometheus.yml')), /SUCCESS: 1 rule files found/);
});

describe('promtool test rules', () => {
  for (const [index, unit] of unitFile.tests.entries()) {
    test(unit.name, async () => {
      // One group per file, so this test passes or fails on its own case.
      const file = join(work, `case-${index}.yml`);
      writeFileSync(file, stringify({ rule_files: [RULES], evaluation_interval: unitFile.evaluation_interval, tests: [unit] }));
      assert.match(await promtool('test', 'rules', file), /SUCCESS/);
    });
  }
});

describe('every alert', () => {
  for (const rule of rules) {
    test(`${rule.alert} waits (for:), has a severity and a summary naming its runbook section`, () => {
      assert.match(rule.for ?? '', /^\d+[smh]$/);
      assert.ok(['warning', 'critical'].includes(rule.labels?.severity ?? ''), `severity of ${rule.alert}`);
      assert.ok(rule.annotations?.summary?.includes(`(runbook: docs/operations.md#${rule.alert.toLowerCase()})`), `summary of ${rule.alert}`);
    });
    test(`${rule.alert} has a unit test where it fires and one where it stays quiet`, () => {
      const cases = unitFile.tests.flatMap((t) => t.alert_rule_test).filter((c) => c.alertname === rule.alert);
      assert.ok(cases.some((c) => c.exp_alerts.length > 0), `a firing case for ${rule.alert}`);
      assert.ok(cases.some((c) => c.exp_alerts.length === 0), `a quiet case for ${rule.alert}`);
    });
  }
});
