// The Grafana dashboard (deploy/grafana/herald.json) and the alert rules against a real
// Herald and a real Prometheus (Debian's `prometheus` package) scraping it: every metric a
// panel or a rule names is one /metrics exports, and Prometheus accepts every query.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { freePort } from '../helpers/cluster.js';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { openStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

interface Target { expr: string; legendFormat?: string; refId: string }
interface Panel { type: string; title: string; targets?: Target[] }
interface Dashboard { title: string; uid: string; panels: Panel[]; templating: { list: Array<{ name: string; type: string }> } }

const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana/herald.json'), 'utf8')) as Dashboard;
const graphs = dashboard.panels.filter((p) => p.type !== 'row');
const rules = (parse(readFileSync(join(DEPLOY, 'prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> })
  .groups.flatMap((g) => g.rules);

/** Herald's metric names in a query (all of them carry the herald_ prefix). */
function metricNames(expr: string): string[] {
  return [...new Set(expr.replace(/"[^"]*"/g, '""').match(/\bherald_[a-zA-Z0-9_:]*/g) ?? [])];
}

/** The query Grafana would send: its variables replaced by what they expand to. */
function expand(expr: string): string {
  return expr.replace(/\$__rate_interval/g, '1m').replace(/\$instance/g, '.+');
}

/** Every series name a /metrics scrape declares, histograms and summaries with their parts. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

describe('dashboard and alert queries against a live Herald and Prometheus', () => {
  let herald: HeraldProcess;
  let exported: Set<string>;
  let prometheus: ChildProcess;
  let promUrl: string;
  let dir: string;
  const promLog: string[] = [];

  before(async () => {
    herald = await startHerald();
    // Some traffic, so counters with labels have series too.
    const token = await herald.token('dash');
    assert.equal((await herald.publish({ recipients: ['dash'], type: 'dash.test', content: 'x' })).status, 202);
    const stream = await openStream(herald.url, token, { lastEventId: 'zzzzzz.1' });
    await stream.waitForEvents('reset', 1);
    stream.close();
    exported = exportedNames(await (await fetch(`${herald.url}/metrics`)).text());

    dir = mkdtempSync(join(tmpdir(), 'herald-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: herald',
      `    static_configs: [{ targets: ['127.0.0.1:${herald.port}'] }]`,
    ].join('\n'));
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout?.on('data', (c: Buffer) => promLog.push(c.toString()));
    prometheus.stderr?.on('data', (c: Buffer) => promLog.push(c.toString()));
    await waitFor(async () => {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${promLog.join('').slice(-2000)}`);
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('up{job="herald"} == 1')}`);
      return res.ok && ((await res.json()) as { data: { result: unknown[] } }).data.result.length === 1;
    }, 'prometheus to scrape herald', 60_000, 200);
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await herald?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expand(expr))}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  }

  test('the dashboard has a data source and a node (instance) variable, and every query is per node', () => {
    assert.deepEqual(dashboard.templating.list.map((v) => [v.name, v.type]), [['datasource', 'datasource'], ['instance', 'query']]);
    for (const target of graphs.flatMap((p) => p.targets ?? [])) {
      assert.ok(target.expr.includes('instance=~"$instance"'), target.expr);
      assert.ok(target.legendFormat?.includes('{{instance}}'), target.expr);
    }
  });

  test('the dashboard shows streams, publishes, deliveries, latency, replays, resets, auth failures, slow-consumer cuts, event-loop lag, CPU, memory, queue depth and dead letters', () => {
    const all = graphs.flatMap((p) => p.targets ?? []).map((t) => t.expr).join('\n');
    for (const needed of ['herald_stream_connections', 'herald_published_total', 'herald_delivered_total', 'herald_delivery_latency_seconds_bucket',
      'herald_replayed_total', 'herald_stream_resets_total', 'herald_auth_failures_total', 'reason="slow_consumer"', 'herald_nodejs_eventloop_lag',
      'herald_process_cpu_seconds_total', 'herald_process_resident_memory_bytes', 'herald_ingest_queue_messages', 'herald_ingest_dead_letter_messages']) {
      assert.ok(all.includes(needed), needed);
    }
  });

  for (const panel of graphs) {
    test(`panel "${panel.title}" names only metrics that /metrics exports`, () => {
      const names = (panel.targets ?? []).flatMap((t) => metricNames(t.expr));
      assert.ok(names.length > 0);
      assert.deepEqual(names.filter((n) => !exported.has(n)), []);
    });

    test(`panel "${panel.title}": Prometheus accepts every query`, async () => {
      for (const target of panel.targets ?? []) {
        const answer = await query(target.expr);
        assert.equal(answer.status, 'success', `${target.expr}: ${answer.error}`);
      }
    });
  }

  test('a panel query returns this node\'s data from the live scrape (open streams, resets)', async () => {
    const resets = await waitFor(async () => (await query('herald_stream_resets_total{instance=~"$instance"}')).data?.result.length, 'the resets series');
    assert.equal(resets, 1);
  });

  for (const rule of rules) {
    test(`alert ${rule.alert} names only metrics that /metrics exports, and Prometheus accepts its query`, async () => {
      assert.deepEqual(metricNames(rule.expr).filter((n) => !exported.has(n)), []);
      const answer = await query(rule.expr);
      assert.equal(answer.status, 'success', `${rule.expr}: ${answer.error}`);
    });
  }
});
