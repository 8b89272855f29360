// Writes docs/benchmarks.md and its SVG charts from the stored results, with no network:
// bench/results/run.json (from `npm run bench`) and bench/results/compare-*.jsonl (the raw
// JSON lines of a side-by-side run, one file per run: `npm run bench:compare`'s, or the older
// external harness's). `npm run bench:report` runs it alone; `npm run bench` and
// `npm run bench:compare` run it at the end.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CompareRecord } from './compare/records.js';
import { RunnerRun, runnerFigures, runnerTable } from './compare/table.js';

export const RESULTS_DIR = 'bench/results';
const DOC = 'docs/benchmarks.md';
const CHART_DIR = 'docs/benchmarks';

export type RunRecord = Record<string, number>;

export interface BenchResults {
  date: string;
  machine: { cores: number; cpu: string; memGiB: number; node: string };
  sizes: Record<string, number>;
  stores: { postgres: boolean; rabbitmq: boolean };
  runs: RunRecord[];
}

/** bench/results/delivery.json: the delivery scenarios, each as last run (bench/delivery.ts). */
export interface DeliveryResults {
  machine: BenchResults['machine'];
  scenarios: Record<string, { date: string; sizes: Record<string, number>; runs: RunRecord[]; summary?: Record<string, number>; serverEnv?: string; note?: string } | undefined>;
}

// ---------- numbers ----------

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const k = Math.floor(v.length / 2);
  return v.length % 2 ? (v[k] as number) : ((v[k - 1] as number) + (v[k] as number)) / 2;
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');

// ---------- side-by-side harness (sseload JSON lines) ----------

interface Step {
  rate_target: number;
  rate_achieved: number;
  lost: number;
  pub_errors: number;
  expected: number;
  deliveries_per_s: number;
  server_cpu_pct: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
}

interface LoadReport {
  label: string;
  kb_per_conn_rss?: number;
  steps?: Step[];
}

export interface CompareRun {
  name: string;
  /** system -> scenario -> one report per repetition */
  by: Map<string, Map<string, LoadReport[]>>;
  systems: string[];
  env: string;
  /** Every line as read; `npm run bench:compare`'s lines have `runner: 'bench/compare'`. */
  records: unknown[];
}

export function readCompare(file: string): CompareRun {
  const by = new Map<string, Map<string, LoadReport[]>>();
  const systems: string[] = [];
  const records: unknown[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let report: LoadReport;
    try { report = JSON.parse(line) as LoadReport; } catch { continue; }
    records.push(report);
    const [system, scenario] = report.label.split('/');
    if (!system || !scenario) continue;
    if (!by.has(system)) { by.set(system, new Map()); systems.push(system); }
    const scenarios = by.get(system) as Map<string, LoadReport[]>;
    scenarios.set(scenario, [...(scenarios.get(scenario) ?? []), report]);
  }
  const envFile = file.replace(/\.jsonl$/, '.env.txt');
  return { name: basename(file, '.jsonl').replace(/^compare-/, ''), by, systems, env: existsSync(envFile) ? readFileSync(envFile, 'utf8').trim() : '', records };
}

const firstStep = (r: LoadReport): Step | undefined => r.steps?.[0];
// Held: no loss, no publish error, p99 within a second (the harness's own rule).
const held = (s: Step) => s.lost === 0 && s.pub_errors === 0 && s.latency_ms.p99 <= 1000;

/** Median over repetitions of one figure; NaN when the system did not run the scenario. */
export function figure(run: CompareRun, system: string, scenario: string, pick: (r: LoadReport) => number | undefined): number {
  return median((run.by.get(system)?.get(scenario) ?? []).map((r) => pick(r) ?? NaN));
}

export const compareFigures = {
  // A repetition whose memory read failed (the harness then reports 0 or less) is left out.
  rssPerStream: (r: LoadReport) => (r.kb_per_conn_rss !== undefined && r.kb_per_conn_rss > 0 ? r.kb_per_conn_rss : undefined),
  p50: (r: LoadReport) => firstStep(r)?.latency_ms.p50,
  p90: (r: LoadReport) => firstStep(r)?.latency_ms.p90,
  p99: (r: LoadReport) => firstStep(r)?.latency_ms.p99,
  max: (r: LoadReport) => firstStep(r)?.latency_ms.max,
  achieved: (r: LoadReport) => firstStep(r)?.rate_achieved,
  lost: (r: LoadReport) => firstStep(r)?.lost,
  // As with memory, a failed read of the server's CPU comes back as 0 or less: left out.
  cpu: (r: LoadReport) => { const c = firstStep(r)?.server_cpu_pct; return c !== undefined && c > 0 ? c : undefined; },
  bestDeliveries: (r: LoadReport) => Math.max(0, ...(r.steps ?? []).filter(held).map((s) => s.deliveries_per_s)),
  bestIngest: (r: LoadReport) => Math.max(0, ...(r.steps ?? []).filter(held).map((s) => s.rate_achieved)),
};

function compareTable(run: CompareRun): string {
  const systems = run.systems;
  const row = (title: string, scenario: string, pick: (r: LoadReport) => number | undefined, digits = 1) =>
    `| ${title} | ${systems.map((s) => fmt(figure(run, s, scenario, pick), digits)).join(' | ')} |`;
  const reps = Math.max(...[...run.by.values()].flatMap((m) => [...m.values()].map((l) => l.length)));
  return [
    `Medians of ${reps} repetition${reps === 1 ? '' : 's'}.`,
    '',
    `| scenario | ${systems.join(' | ')} |`,
    `|---|${systems.map(() => '---').join('|')}|`,
    row('10k idle streams: RSS per stream, KiB', 'fan10k', compareFigures.rssPerStream),
    row('broadcast to 10k streams, 2 msg/s: p50 ms', 'fan10k', compareFigures.p50, 2),
    row('broadcast to 10k streams, 2 msg/s: p99 ms', 'fan10k', compareFigures.p99, 2),
    row('broadcast at 1k streams: highest deliveries/s held', 'max1k', compareFigures.bestDeliveries, 0),
    row('targeted, 10k users, 2000/s: achieved /s', 'targeted10k', compareFigures.achieved, 0),
    row('targeted: p50 ms', 'targeted10k', compareFigures.p50, 2),
    row('targeted: p99 ms', 'targeted10k', compareFigures.p99, 2),
    row('targeted: lost', 'targeted10k', compareFigures.lost, 0),
    row('targeted: server CPU %', 'targeted10k', compareFigures.cpu, 0),
    row('ingest, 1k users, 32 publishers: highest rate held /s', 'ingest1k', compareFigures.bestIngest, 0),
  ].filter((line) => !/^\| [^|]+\|( – \|)+$/.test(line)).join('\n');
}

// ---------- SVG ----------

interface Bar { name: string; value: number }
interface Group { label: string; bars: Bar[] }

const COLOURS = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grouped bar chart; `log` for figures that span orders of magnitude (latencies). */
export function barChart(title: string, unit: string, groups: Group[], log = false): string {
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v) && v > 0);
  const width = 720, height = 360, left = 70, right = 20, top = 50, bottom = 60;
  const plotW = width - left - right, plotH = height - top - bottom;
  const maxV = values.length ? Math.max(...values) : 1;
  const minV = values.length ? Math.min(...values) : 1;
  const lo = log ? 10 ** Math.floor(Math.log10(minV)) : 0;
  const hi = log ? 10 ** Math.ceil(Math.log10(maxV)) : niceCeil(maxV);
  const y = (v: number) => top + plotH - (log ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi) * plotH;
  const ticks = log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
    : Array.from({ length: 6 }, (_, i) => (hi / 5) * i);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  for (const t of ticks) {
    out.push(`<line x1="${left}" x2="${width - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${esc(shortNumber(t))}</text>`);
  }
  out.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">${esc(unit)}${log ? ' (log scale)' : ''}</text>`);
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, series.length));
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((name, si) => {
      const bar = g.bars.find((b) => b.name === name);
      const x = x0 + si * barW;
      if (!bar || !Number.isFinite(bar.value) || bar.value <= 0) {
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH - 4}" text-anchor="middle" fill="#999">n/a</text>`);
        return;
      }
      const yTop = y(Math.max(bar.value, lo || 0));
      out.push(`<rect x="${x.toFixed(1)}" y="${yTop.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yTop).toFixed(1)}" fill="${COLOURS[si % COLOURS.length]}"><title>${esc(`${g.label}, ${name}: ${shortNumber(bar.value)} ${unit}`)}</title></rect>`);
      out.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(yTop - 3).toFixed(1)}" text-anchor="middle" font-size="10">${esc(shortNumber(bar.value))}</text>`);
    });
    out.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  out.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  series.forEach((name, si) => {
    const x = left + si * 150;
    out.push(`<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${COLOURS[si % COLOURS.length]}"/>`);
    out.push(`<text x="${x + 16}" y="${height - 12}">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortNumber(v: number): string {
  if (v === 0) return '0';
  if (v >= 10_000) return `${fmt(v / 1000, 0)}k`;
  if (v >= 1000) return `${fmt(v / 1000, 1)}k`;
  if (v >= 10) return fmt(v, 0);
  if (v >= 1) return fmt(v, 1);
  return fmt(v, 2);
}

// ---------- the document ----------

function ownSection(results: BenchResults): { text: string; charts: Record<string, string> } {
  const m = (key: string) => median(results.runs.map((r) => r[key] ?? NaN));
  const base = m('baseline');
  const ratio = (v: number) => (Number.isFinite(v) && base > 0 ? `${fmt(v / base, 1)}×` : '–');
  const s = results.sizes;
  const rows: Array<[string, number, string, string]> = [
    ['baseline: `GET /healthz` round trip', base, 'ms', '1×'],
    [`publish → arrival on an open stream, median (${s.latencySamples} sequential publishes)`, m('latMedian'), 'ms', ratio(m('latMedian'))],
    ['publish → arrival, p99', m('latP99'), 'ms', ratio(m('latP99'))],
    ['publish → 202 answer (durable commit), median', m('accepted'), 'ms', ratio(m('accepted'))],
    ['publish → arrival with `HERALD_SQLITE_SYNCHRONOUS=normal` (no fsync), median', m('relaxedMedian'), 'ms', ratio(m('relaxedMedian'))],
    ['same, p99', m('relaxedP99'), 'ms', ratio(m('relaxedP99'))],
    [`HTTP ingest, 8 concurrent publishers (${s.throughputPublishes} per run), all delivered`, m('throughput8'), 'notifications/s', '–'],
    [`HTTP ingest, ${s.ingestPublishers} concurrent publishers (${s.ingestPublishes} per run), all delivered`, m('ingestHttp'), 'notifications/s', '–'],
    ['same with `synchronous=normal`', m('ingestHttpNormal'), 'notifications/s', '–'],
    ['one publish to 1000 recipients, 202 time (median of the last 3 of 5)', m('many'), 'ms', ratio(m('many'))],
    ['same, stored notifications per second', 1000 / (m('many') / 1000), 'rows/s', '–'],
    [`one broadcast → ${s.fanoutStreams} open streams, until the last has it`, m('fanout'), 'ms', ratio(m('fanout'))],
    [`mixed: targeted publish → arrival p99 while ${s.ingestPublishers} publishers ingest at full speed (${s.mixedSamples} samples)`, m('mixedP99'), 'ms', ratio(m('mixedP99'))],
    ['mixed: the ingest rate reached meanwhile', m('mixedIngestRate'), 'notifications/s', '–'],
  ];
  if (results.stores.postgres) {
    rows.push(
      ['PostgreSQL: publish → arrival, median', m('pgLatMedian'), 'ms', ratio(m('pgLatMedian'))],
      ['PostgreSQL: publish → arrival, p99', m('pgLatP99'), 'ms', ratio(m('pgLatP99'))],
      [`PostgreSQL: HTTP ingest, ${s.ingestPublishers} publishers, all delivered`, m('pgIngestHttp'), 'notifications/s', '–'],
      ['PostgreSQL: one publish to 1000 recipients, 202 time', m('pgMany'), 'ms', ratio(m('pgMany'))],
      ['PostgreSQL: same, stored notifications per second', 1000 / (m('pgMany') / 1000), 'rows/s', '–'],
    );
  }
  if (results.stores.rabbitmq) rows.push([`RabbitMQ ingest queue (SQLite store), ${s.ingestPublishers} confirming publishers, all delivered`, m('ingestAmqp'), 'notifications/s', '–']);
  const digits = (unit: string) => (unit === 'ms' ? 2 : 0);
  const keys = Object.keys(results.runs[0] ?? {}).filter((k) => k !== 'run');
  const text = `Written from bench/results/run.json, measured on ${results.date.slice(0, 10)}: ${results.machine.cores} cores
(${results.machine.cpu}), ${results.machine.memGiB} GiB, Node ${results.machine.node}; each Herald is a separate
process with its own database, the load comes from the same Node process over loopback.
Every figure is the median of ${s.runs} runs; the baseline is an HTTP round trip to \`/healthz\` on the
same server in the same run, and the last column divides by it.
${results.stores.postgres ? '' : '\nPostgreSQL was not configured for this run (set `BENCH_PG_URL`, or use `npm run bench:services`).\n'}${results.stores.rabbitmq ? '' : '\nRabbitMQ was not configured for this run (set `HERALD_AMQP_URL`, or use `npm run bench:services`).\n'}
| measure | median of runs | unit | vs. baseline round trip |
|---|---|---|---|
${rows.map(([name, v, unit, r]) => `| ${name} | ${fmt(v, digits(unit))} | ${unit} | ${r} |`).join('\n')}

Per-run figures (ms, or per second for rates):

| run | ${keys.join(' | ')} |
|---|${keys.map(() => '---').join('|')}|
${results.runs.map((r) => `| ${r.run} | ${keys.map((k) => fmt(r[k] ?? NaN, /Rate|ingest|throughput/i.test(k) ? 0 : 2)).join(' | ')} |`).join('\n')}
`;
  const rates: Group[] = [
    { label: 'SQLite FULL', bars: [{ name: 'HTTP, 32 publishers', value: m('ingestHttp') }, { name: 'RabbitMQ queue', value: m('ingestAmqp') }] },
    { label: 'SQLite normal', bars: [{ name: 'HTTP, 32 publishers', value: m('ingestHttpNormal') }] },
    { label: 'PostgreSQL', bars: [{ name: 'HTTP, 32 publishers', value: m('pgIngestHttp') }] },
  ];
  const latencies: Group[] = [
    { label: 'SQLite FULL', bars: [{ name: 'median', value: m('latMedian') }, { name: 'p99', value: m('latP99') }] },
    { label: 'SQLite normal', bars: [{ name: 'median', value: m('relaxedMedian') }, { name: 'p99', value: m('relaxedP99') }] },
    { label: 'FULL, during ingest', bars: [{ name: 'median', value: m('mixedMedian') }, { name: 'p99', value: m('mixedP99') }] },
    { label: 'PostgreSQL', bars: [{ name: 'median', value: m('pgLatMedian') }, { name: 'p99', value: m('pgLatP99') }] },
  ];
  return {
    text,
    charts: {
      'own-ingest-rate.svg': barChart('Herald: durable ingest, notifications accepted and delivered per second', 'notifications/s', rates),
      'own-latency.svg': barChart('Herald: publish → arrival latency', 'ms', latencies, true),
    },
  };
}

function compareSection(runs: CompareRun[]): { text: string; charts: Record<string, string> } {
  const charts: Record<string, string> = {};
  const parts: string[] = [];
  for (const run of runs) {
    if (run.records.some((r) => (r as Partial<CompareRecord>).runner === 'bench/compare')) {
      const section = runnerSection(run);
      Object.assign(charts, section.charts);
      parts.push(section.text);
      continue;
    }
    const systems = run.systems;
    const percentiles = (scenario: string): Group[] => systems.map((s) => ({
      label: s,
      bars: (['p50', 'p90', 'p99', 'max'] as const).map((p) => ({ name: p, value: figure(run, s, scenario, compareFigures[p]) })),
    }));
    const ran = (scenario: string) => systems.some((s) => run.by.get(s)?.has(scenario));
    const images: string[] = [];
    if (ran('targeted10k')) {
      charts[`compare-${run.name}-targeted-latency.svg`] = barChart(`targeted, 10k users, 2000/s: latency (${run.name})`, 'ms', percentiles('targeted10k'), true);
      images.push(`![targeted latency](benchmarks/compare-${run.name}-targeted-latency.svg)`);
    }
    if (ran('fan10k')) {
      charts[`compare-${run.name}-broadcast-latency.svg`] = barChart(`broadcast to 10k streams, 2 msg/s: latency (${run.name})`, 'ms', percentiles('fan10k'), true);
      images.push(`![broadcast latency](benchmarks/compare-${run.name}-broadcast-latency.svg)`);
    }
    images.push(`![rates](benchmarks/compare-${run.name}-rates.svg)`);
    charts[`compare-${run.name}-rates.svg`] = barChart(`delivery rates held, no loss, p99 ≤ 1 s (${run.name})`, 'deliveries per second', [
      { label: 'broadcast, 1k streams', bars: systems.map((s) => ({ name: s, value: figure(run, s, 'max1k', compareFigures.bestDeliveries) })) },
      { label: 'targeted, 2000/s asked', bars: systems.map((s) => ({ name: s, value: figure(run, s, 'targeted10k', compareFigures.achieved) })) },
      { label: 'ingest, 32 publishers', bars: systems.map((s) => ({ name: s, value: figure(run, s, 'ingest1k', compareFigures.bestIngest) })) },
    ], true);
    parts.push(`### ${run.name}

${compareTable(run)}

${images.join('\n')}
${run.env ? `\n<details><summary>machine and versions of this run</summary>\n\n\`\`\`\n${run.env}\n\`\`\`\n</details>\n` : ''}`);
  }
  return { text: parts.join('\n'), charts };
}

/** A run of `npm run bench:compare` (bench/compare/): its own table, sizes and charts. */
function runnerSection(run: CompareRun): { text: string; charts: Record<string, string> } {
  const rr = new RunnerRun(run.records.filter((r) => (r as Partial<CompareRecord>).runner === 'bench/compare') as CompareRecord[]);
  const charts: Record<string, string> = {};
  const images: string[] = [];
  const percentiles = (scenario: string): Group[] => rr.peers.map((p) => ({
    label: p,
    bars: (['p50', 'p90', 'p99', 'max'] as const).map((q) => ({ name: q, value: rr.figure(p, scenario, runnerFigures[q]) })),
  }));
  for (const [scenario, title] of [['targeted', 'targeted'], ['broadcast', 'broadcast']] as const) {
    if (!rr.ran(scenario)) continue;
    const s = rr.sizes(scenario);
    const file = `compare-${run.name}-${scenario}-latency.svg`;
    charts[file] = barChart(`${title}, ${fmt(s.streams ?? NaN, 0)} streams, ${fmt(s.rate ?? NaN, 0)}/s: latency (${run.name})`, 'ms', percentiles(scenario), true);
    images.push(`![${title} latency](benchmarks/${file})`);
  }
  if (rr.ran('max-broadcast') || rr.ran('targeted') || rr.ran('ingest')) {
    const file = `compare-${run.name}-rates.svg`;
    charts[file] = barChart(`rates held, no loss, p99 ≤ 1 s (${run.name})`, 'per second', [
      { label: 'broadcast deliveries', bars: rr.peers.map((p) => ({ name: p, value: rr.figure(p, 'max-broadcast', runnerFigures.bestDeliveries) })) },
      { label: 'targeted, achieved', bars: rr.peers.map((p) => ({ name: p, value: rr.figure(p, 'targeted', runnerFigures.achieved) })) },
      { label: 'ingest publishes', bars: rr.peers.map((p) => ({ name: p, value: rr.figure(p, 'ingest', runnerFigures.bestIngest) })) },
    ], true);
    images.push(`![rates](benchmarks/${file})`);
  }
  return {
    charts,
    text: `### ${run.name} (\`npm run bench:compare\`)

${runnerTable(rr)}

${images.join('\n')}
${run.env ? `\n<details><summary>machine, versions and sizes of this run</summary>\n\n\`\`\`\n${run.env}\n\`\`\`\n</details>\n` : ''}`,
  };
}

// ---------- delivery under load (bench/delivery.ts) ----------

/** A row: what, the median of runs, the worst run (max, or min when `lowIsBad`), unit, the target and whether the worst run meets it. */
interface DeliveryRow { name: string; key: string; unit: string; digits: number; target?: string; meets?: (worst: number) => boolean; lowIsBad?: boolean }

function deliveryTable(runs: RunRecord[], rows: DeliveryRow[]): string {
  const values = (key: string) => runs.map((r) => r[key] ?? NaN).filter((v) => !Number.isNaN(v));
  const lines = rows.map((row) => {
    const v = values(row.key);
    const worst = v.length === 0 ? NaN : row.lowIsBad ? Math.min(...v) : Math.max(...v);
    const verdict = row.meets ? (row.meets(worst) ? 'met' : '**not met**') : '';
    return `| ${row.name} | ${fmt(median(v), row.digits)} | ${fmt(worst, row.digits)} | ${row.unit} | ${row.target ?? ''} | ${verdict} |`;
  });
  const keys = Object.keys(runs[0] ?? {}).filter((k) => k !== 'run');
  return `| measure | median of runs | worst run | unit | target | worst run meets it |
|---|---|---|---|---|---|
${lines.join('\n')}

<details><summary>per-run figures</summary>

| run | ${keys.join(' | ')} |
|---|${keys.map(() => '---').join('|')}|
${runs.map((r) => `| ${r.run} | ${keys.map((k) => fmt(r[k] ?? NaN, Number.isInteger(r[k]) ? 0 : 2)).join(' | ')} |`).join('\n')}
</details>
`;
}

/** Targets of issue 25, items 1–3; the stall's is ours: a node that answers within 100 ms is not stalled. */
export const DELIVERY_TARGETS = { stallMs: 100 } as const;

function deliverySection(results: DeliveryResults): string {
  const parts: string[] = [];
  const m = results.machine;
  const intro = `Written from bench/results/delivery.json: ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, Node ${m.node}.
Each scenario starts a Herald of its own (shipped settings unless said, beyond the connection and publish-rate
limits raised for every bench server), opens its streams from the bench
process, and measures \`BENCH_RUNS\` times; a scenario's figures all come from the same run of it.
"Worst run" is the largest figure (the smallest for counts that should be all, and for rates); the targets are those
of issue 25, and the stall's limit is a target we chose, not a measured limit.`;
  const expiry = results.scenarios['expiry-stall'];
  if (expiry) {
    const s = expiry.sizes;
    parts.push(`### Expiring broadcasts with ${fmt(s.streams ?? NaN, 0)} open streams (issue 25.1)

Measured ${expiry.date.slice(0, 10)}, ${s.runs} run${s.runs === 1 ? '' : 's'}. ${fmt(s.backlog ?? NaN, 0)} broadcast notifications are stored before the
streams open (every audience's recount reads them); each run publishes ${s.expiring} broadcasts that expire
${fmt((s.aheadMs ?? NaN) / 1000, 0)} s later and waits until every stream has them. From the expiry time until every stream has its
\`notification.expired\` event, a worker thread (its event loop is not the one reading the streams) asks
\`/healthz\` every 10 ms and publishes a targeted notification to a probe stream every 20 ms, timing each to its
arrival. The baseline is the same probing for the second before the run's publishes. Built from the commit
before the fix (e505272^) with 2,000 streams, one run saw \`/healthz\` wait 854 ms and a publish 915 ms; the
fixed node, just after, 22 ms and 82 ms (2026-12-04).

${deliveryTable(expiry.runs, [
  { name: 'baseline: `/healthz` round trip before the expiry, median', key: 'baselineMedian', unit: 'ms', digits: 2 },
  { name: 'baseline: slowest `/healthz` before the expiry', key: 'baselineMax', unit: 'ms', digits: 2 },
  { name: 'slowest `/healthz` while the broadcasts expire', key: 'healthzMax', unit: 'ms', digits: 2, target: `stall ≤ ${DELIVERY_TARGETS.stallMs} ms`, meets: (w) => w <= DELIVERY_TARGETS.stallMs },
  { name: 'same ÷ the baseline median', key: 'stallRatio', unit: '×', digits: 1 },
  { name: 'same ÷ the slowest baseline', key: 'stallVsBaselineMax', unit: '×', digits: 1 },
  { name: '`/healthz` while they expire, median', key: 'healthzMedian', unit: 'ms', digits: 2 },
  { name: 'targeted publish → arrival before the expiry, median', key: 'publishBaseline', unit: 'ms', digits: 2 },
  { name: 'targeted publish → arrival before the expiry, slowest', key: 'publishBaselineMax', unit: 'ms', digits: 2 },
  { name: 'targeted publish → arrival while they expire, median', key: 'publishDuringMedian', unit: 'ms', digits: 2 },
  { name: 'targeted publish → arrival while they expire, slowest', key: 'publishDuringMax', unit: 'ms', digits: 2 },
  { name: 'expiry time → the last stream told (the sweeper looks every second)', key: 'windowMs', unit: 'ms', digits: 0 },
  { name: 'streams told of the expiry', key: 'told', unit: `of ${s.streams}`, digits: 0, target: 'every stream', meets: (w) => w === s.streams, lowIsBad: true },
])}`);
  }
  const closed = results.scenarios['closed-sockets'];
  if (closed) {
    const s = closed.sizes;
    const queuedMb = ((s.publishes ?? NaN) * 60_000) / 1e6;
    parts.push(`### Sockets of closed streams are freed (issue 25.2)

Measured ${closed.date.slice(0, 10)}, ${s.runs} run${s.runs === 1 ? '' : 's'}. Each run opens ${s.streams} streams on raw sockets that read up to
\`ready\` and then stop reading, with tokens that expire after ${s.tokenTtlS} s; ${s.publishes} broadcasts of 60 kB queue
about ${fmt(queuedMb, 0)} MB to each (more than loopback's socket buffers take), and the node closes them at token expiry
(\`HERALD_STREAM_BUFFER_BYTES\` is 64 MiB here so they are not cut as slow first;
\`HERALD_STREAM_CLOSE_GRACE_MS=${s.graceMs}\`). \`ss\` then counts the server's side of their connections: still
established, or still held by the Herald process in any state. A connection the node dropped with bytes
unsent may stay a while in the kernel as an orphan (FIN-WAIT, owned by no process); those are counted apart.
Built from the commit before the fix (334f0db^), one run left all 200 established and held by the node (2026-12-04).

${deliveryTable(closed.runs, [
  { name: 'server sockets of the stalled streams open before the close', key: 'openAtStart', unit: `of ${s.streams}`, digits: 0, lowIsBad: true },
  { name: 'sockets left (looked at until none, at most the grace + 5 s): established', key: 'leftEstablished', unit: 'sockets', digits: 0, target: '0 sockets left', meets: (w) => w === 0 },
  { name: 'sockets left: held by the Herald process', key: 'leftHeld', unit: 'sockets', digits: 0, target: '0 sockets left', meets: (w) => w === 0 },
  { name: 'all closed at token expiry → the last socket let go', key: 'freedMs', unit: 'ms', digits: 0, target: `≤ grace (${s.graceMs} ms) + a sweep`, meets: (w) => w <= (s.graceMs ?? 0) + 1500 },
  { name: 'orphans left in the kernel (not the node\'s)', key: 'orphaned', unit: 'sockets', digits: 0 },
  { name: 'time to publish what was queued', key: 'queuedMs', unit: 'ms', digits: 0 },
])}`);
  }
  const bursts = (['burst', 'burst-large'] as const).flatMap((name) => {
    const result = results.scenarios[name];
    return result ? [{ name, ...result }] : [];
  });
  if (bursts.length > 0) {
    parts.push(`### Bursts do not cut fast readers (issue 25.3)

Readers read as fast as the bench process can; each run publishes a burst of broadcasts, many in flight, so
group commits deliver them in batches. The node runs with its shipped slow-reader bound
(\`HERALD_STREAM_BUFFER_BYTES\`, 1 MiB). \`burst\` is many readers and small events; \`burst-large\` has events
of 60 kB, so that one commit's batch is more than the bound on every stream at once, which is what cut readers
that kept up before the fix. Built from the commit before it (433ff43^), one run of \`burst-large\` saw all 100 streams
cut and none complete, while \`burst\` (200 streams there) saw none cut (2026-12-04).
`);
    for (const { name, date, sizes: s, runs } of bursts) {
      parts.push(`#### \`${name}\`: ${fmt(s.streams ?? NaN, 0)} streams, ${fmt(s.events ?? NaN, 0)} broadcasts of ${fmt(s.contentBytes ?? NaN, 0)} bytes, ${s.inFlight} in flight

Measured ${date.slice(0, 10)}, ${s.runs} run${s.runs === 1 ? '' : 's'}; ~${fmt(((s.events ?? NaN) * ((s.contentBytes ?? NaN) + 250)) / 2 ** 20, 1)} MiB per stream per burst.

${deliveryTable(runs, [
  { name: 'streams closed as `slow_consumer`', key: 'cut', unit: 'streams', digits: 0, target: '0 cut', meets: (w) => w === 0 },
  { name: 'streams that got every event of the burst', key: 'complete', unit: `of ${s.streams}`, digits: 0, target: 'every stream', meets: (w) => w === s.streams, lowIsBad: true },
  { name: 'first publish → the burst on every reader', key: 'burstMs', unit: 'ms', digits: 0 },
  { name: 'first publish → the last 202', key: 'acceptedMs', unit: 'ms', digits: 0 },
  { name: 'deliveries per second over the burst', key: 'deliveriesPerS', unit: 'events/s', digits: 0, lowIsBad: true },
])}`);
    }
  }
  return `${intro}\n\n${parts.join('\n')}`;
}

// ---------- churn soak (bench/churn-soak.ts) ----------

/** Least-squares slope of `ys` over `xs` (per unit of x). */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

export interface FlatCheck {
  name: string;
  unit: string;
  base: number;
  last: number;
  /** Fitted change per minute over the rows after the first minute. */
  perMinute: number;
  /** The fit's change over those minutes. */
  fitted: number;
  /** Fitted change per minute over the last third of those rows: the pace at the end of the run. */
  tailPerMinute: number;
  /** That pace carried over the whole span after the first minute (what it would add in a run as long again). */
  tailChange: number;
  tolerance: number;
  /** The last row and the fitted change are both within the tolerance, either way. */
  flat: boolean;
  /** The last row or the fitted change is above the tolerance. */
  rose: boolean;
  /** It rose and is still rising in the last third (tailChange above the tolerance): what a leak does. */
  grew: boolean;
  /** It rose, then held: the last third's pace is within the tolerance (a cache or the allocator warming up). */
  levelled: boolean;
}

/**
 * The soak's verdict: after the first minute (warm-up), the last row's figure is within the
 * tolerance of the first row after it, and so is the change a linear fit over those rows
 * makes over their span. A figure above it rose; it grew (a leak) only if it is still rising
 * in the last third of the rows, at a pace that would add more than the tolerance over a run
 * as long again; else it levelled off. Memory is judged on the lowest read of each
 * interval, which a garbage collector's sawtooth moves less than a single read; malloc's
 * arenas (read at the row) as well, when the run has them. Tolerance: 10 % for memory (for the
 * arenas, 10 % of the RSS); for descriptors, 5 % of the streams (at any moment some are
 * between two connections, or still closing).
 */
export function soakVerdict(rows: RunRecord[], streams: number): FlatCheck[] {
  const after = rows.filter((r) => (r.minute ?? 0) > 1.01);
  // At least three rows make a slope worth reading; a 10-minute run's last third is three.
  const tail = after.slice(-Math.max(3, Math.ceil(after.length / 3)));
  const value = (r: RunRecord, key: string) => (key === 'mallocMiB' ? (r.mainArenaMiB ?? NaN) + (r.threadArenasMiB ?? NaN) : r[key] ?? NaN);
  const rssBase = after[0]?.rssFloorMiB ?? NaN;
  const checks: Array<[string, string, string, (base: number) => number]> = [
    ['RSS, lowest read in the minute', 'rssFloorMiB', 'MiB', (b) => 0.1 * b],
    ['heap used, lowest read in the minute', 'heapFloorMiB', 'MiB', (b) => 0.1 * b],
    // What malloc holds, free of the V8 heap's swings that the RSS carries: judged against the
    // RSS's tolerance, since it is a leak when it would move the RSS by that much.
    ['malloc arenas (main + threads), resident', 'mallocMiB', 'MiB', () => 0.1 * rssBase],
    ['open file descriptors', 'fds', 'fds', () => 0.05 * streams],
  ];
  // Runs stored before the arenas were read have no such figure.
  const measured = checks.filter(([, key]) => after.length === 0 || Number.isFinite(value(after[0] as RunRecord, key)));
  return measured.map(([name, key, unit, tolerance]) => {
    const xs = after.map((r) => r.minute ?? NaN);
    const ys = after.map((r) => value(r, key));
    const base = ys[0] ?? NaN;
    const last = ys[ys.length - 1] ?? NaN;
    const perMinute = slope(xs, ys);
    const span = (xs[xs.length - 1] ?? NaN) - (xs[0] ?? NaN);
    const fitted = after.length < 2 ? 0 : perMinute * span;
    const tailPerMinute = slope(tail.map((r) => r.minute ?? NaN), tail.map((r) => value(r, key)));
    const tailChange = tail.length < 2 ? 0 : tailPerMinute * span;
    const tol = tolerance(base);
    const rose = !(last - base <= tol && fitted <= tol);
    const grew = rose && !(tailChange <= tol);
    return {
      name, unit, base, last, perMinute, fitted, tailPerMinute, tailChange, tolerance: tol,
      flat: Math.abs(last - base) <= tol && Math.abs(fitted) <= tol,
      rose, grew, levelled: rose && !grew,
    };
  });
}

/** A verdict for the whole soak from its figures' checks. */
function soakVerdictText(checks: FlatCheck[], judged: boolean): string {
  if (!judged) return 'not judged (fewer than two rows after the first minute)';
  const grew = checks.filter((c) => c.grew).map((c) => c.name);
  if (grew.length > 0) return `grew, still rising in the last third: ${grew.join('; ')}`;
  const levelled = checks.filter((c) => c.levelled).map((c) => c.name);
  if (levelled.length > 0) return `no leak: ${levelled.join('; ')} rose, then levelled off (flat in the last third)`;
  return checks.every((c) => c.flat) ? 'flat, no leak' : 'no growth, no leak (some figure fell by more than the tolerance)';
}

function soakSection(result: NonNullable<DeliveryResults['scenarios'][string]>): string {
  const s = result.sizes;
  const sum = result.summary ?? {};
  const rows = result.runs;
  const checks = soakVerdict(rows, s.streams ?? NaN);
  const judged = rows.filter((r) => (r.minute ?? 0) > 1.01).length >= 2;
  const col = (key: string, digits: number) => (r: RunRecord) => fmt(r[key] ?? NaN, digits);
  const pair = (a: string, b: string, digits = 1) => (r: RunRecord) => `${fmt(r[a] ?? NaN, digits)} / ${fmt(r[b] ?? NaN, digits)}`;
  const table = (columns: Array<[string, (r: RunRecord) => string]>) => `| ${columns.map(([title]) => title).join(' | ')} |
|${columns.map(() => '---').join('|')}|
${rows.map((r) => `| ${columns.map(([, cell]) => cell(r)).join(' | ')} |`).join('\n')}`;
  const memory: Array<[string, (r: RunRecord) => string]> = [
    ['minute', col('minute', 1)], ['RSS MiB (lowest / at the sample)', pair('rssFloorMiB', 'rssMiB')], ['of it anonymous, lowest MiB', col('rssAnonFloorMiB', 1)],
    ['main heap used MiB (lowest / at the sample)', pair('heapFloorMiB', 'heapUsedMiB')], ['main heap total MiB', col('heapTotalMiB', 1)],
    ['writer thread heap used / total MiB', pair('writerHeapUsedMiB', 'writerHeapTotalMiB')], ['external (Buffers…), lowest MiB', col('externalFloorMiB', 1)],
    ['malloc: main arena MiB', col('mainArenaMiB', 1)], ['malloc: thread arenas MiB (heaps)', (r) => `${fmt(r.threadArenasMiB ?? NaN, 1)} (${fmt(r.threadArenas ?? NaN, 0)})`],
    ['other anonymous MiB', col('otherAnonMiB', 1)], ['open fds', col('fds', 0)],
  ];
  const load: Array<[string, (r: RunRecord) => string]> = [
    ['minute', col('minute', 1)], ['open streams', col('connections', 0)], ['event-loop delay p99 / max ms', pair('lagP99Ms', 'lagMaxMs')],
    ['`/healthz` median / max ms', (r) => `${fmt(r.healthzMedianMs ?? NaN, 2)} / ${fmt(r.healthzMaxMs ?? NaN, 1)}`],
    ['publishes/s', col('publishesPerS', 0)], ['reconnects/s', col('reconnectsPerS', 0)], ['deliveries/s', col('deliveriesPerS', 0)],
    ['missed events caught up', col('caughtUp', 0)], ['gaps / duplicates / resets', (r) => `${fmt(r.gaps ?? NaN, 0)} / ${fmt(r.duplicates ?? NaN, 0)} / ${fmt(r.resets ?? NaN, 0)}`],
  ];
  const deliveryOk = sum.gaps === 0 && sum.duplicates === 0 && sum.resets === 0 && sum.resumeMismatches === 0 && sum.cursorSlotsComplete === sum.cursorSlots;
  return `### Churn soak (issue 24.5)

Measured ${result.date.slice(0, 10)} for ${s.minutes} minute${s.minutes === 1 ? '' : 's'}${result.serverEnv ? ` with \`${result.serverEnv}\` in the server's environment` : ', glibc\'s malloc as Node runs it by default'}${result.note ? ` (${result.note})` : ''}: ${fmt(s.streams ?? NaN, 0)} streams, each closed by its reader after a random lifetime of
${s.minLifeS}–${s.maxLifeS} s and opened again after a random pause of up to ${fmt((s.maxAwayMs ?? NaN) / 1000, 1)} s, half with their last id as \`Last-Event-ID\` and half without, while
${s.rate} notifications a second are published to random users among theirs (one in ${s.broadcastEvery} a broadcast to all).
The streams are read in a worker thread by a light reader that keeps only each event's cursor and checks it: on one
connection every event moves one topic's sequence by exactly one (else a gap or a duplicate). Every ${s.sampleS} s a
row: the server's RSS and open descriptors from \`/proc/<pid>\` and its heap used from \`/metrics\`, each also as the lowest
of the reads every ${s.scrapeS} s in the interval (nearest the level after a collection: a leak raises it, garbage does
not), and the event-loop delay (prom-client's \`nodejs_eventloop_lag_p99_seconds\`/\`_max_seconds\`, highest of the
interval's reads); a \`/healthz\` round trip each second. Row 0 is taken with every stream open, before the churn.

Where the memory is, at each row: the main thread's V8 heap (\`herald_nodejs_heap_size_*\`), the SQLite writer thread's
(\`herald_writer_heap_bytes\`), and from \`/proc/<pid>/smaps\` what glibc's malloc holds resident — the main thread's arena
(\`[heap]\`) and the other threads' arenas (64 MiB-aligned reservations; SQLite's page caches and Node's C++ allocations
live there) — and the remaining anonymous memory (V8's heap pages, blocks malloc maps alone, stacks).

${table(memory)}

${table(load)}

**Verdict: ${soakVerdictText(checks, judged)}.**
After the first minute (warm-up), the last row against the first row after it, and the change a least-squares line
through those rows makes over their span: either above the tolerance, the figure rose. A leak keeps rising: the
pace of a line through the last third of the rows, carried over the same span, is above the tolerance too; below it, the
figure levelled off. A figure that falls by more than the tolerance is no leak; it shows as not within ±.

| figure | first row after minute 1 | last row | fitted slope per minute | fitted change | last third: slope per minute | carried over the span | tolerance | within ± | rose | still rising |
|---|---|---|---|---|---|---|---|---|---|---|
${checks.map((c) => `| ${c.name} | ${fmt(c.base, 1)} ${c.unit} | ${fmt(c.last, 1)} ${c.unit} | ${fmt(c.perMinute, 2)} | ${fmt(c.fitted, 1)} | ${fmt(c.tailPerMinute, 2)} | ${fmt(c.tailChange, 1)} | ± ${fmt(c.tolerance, 1)} | ${c.flat ? 'yes' : 'no'} | ${c.rose ? 'yes' : 'no'} | ${c.grew ? '**yes**' : 'no'} |`).join('\n')}

Delivery over the soak: ${fmt(sum.published ?? NaN, 0)} notifications published (${fmt(sum.broadcasts ?? NaN, 0)} broadcasts, ${fmt(sum.publishErrors ?? NaN, 0)} refused),
${fmt(sum.opens ?? NaN, 0)} streams opened (${fmt(sum.cursorOpens ?? NaN, 0)} with a cursor; ${fmt(sum.openErrors ?? NaN, 0)} opens failed, ${fmt(sum.endedEarly ?? NaN, 0)} ended by the server),
${fmt(sum.notifications ?? NaN, 0)} events read: ${fmt(sum.gaps ?? NaN, 0)} gaps, ${fmt(sum.duplicates ?? NaN, 0)} duplicates, ${fmt(sum.resets ?? NaN, 0)} resets, ${fmt(sum.resumeMismatches ?? NaN, 0)} cursors not resumed.
Streams opened with a cursor got ${fmt(sum.caughtUp ?? NaN, 0)} events published while they were away (created before the stream was asked for);
those opened without one start at the heads, and got ${fmt(sum.oldOnFresh ?? NaN, 0)} such (created just before the ask, committed after the stream joined: live). After the publishers stopped, every slot opened a last
stream: ${fmt(sum.cursorSlotsComplete ?? NaN, 0)} of ${fmt(sum.cursorSlots ?? NaN, 0)} cursor-keeping slots ended holding every notification
published to their user and every broadcast, each received once (${fmt(sum.missing ?? NaN, 0)} missing). ${deliveryOk ? 'Delivery: correct.' : '**Delivery: not correct.**'}
`;
}

type SoakResult = NonNullable<DeliveryResults['scenarios'][string]>;

/**
 * Soak runs kept to compare with the reference one (BENCH_SOAK_VARIANT: another allocator,
 * another setting): where the memory went, every five minutes, side by side.
 */
function soakVariantsSection(reference: SoakResult | undefined): string {
  const files = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => /^churn-soak-[a-z0-9-]+\.json$/.test(f)).sort() : [];
  if (files.length === 0) return '';
  const runs: Array<[string, SoakResult]> = [
    ...(reference ? [['reference', reference] as [string, SoakResult]] : []),
    ...files.map((f): [string, SoakResult] => [basename(f, '.json').replace(/^churn-soak-/, ''), JSON.parse(readFileSync(`${RESULTS_DIR}/${f}`, 'utf8')) as SoakResult]),
  ];
  const longest = Math.max(...runs.map(([, r]) => r.sizes.minutes ?? 0));
  const minutes = [1, ...Array.from({ length: Math.floor(longest / 5) }, (_, i) => 5 * (i + 1))];
  const at = (r: SoakResult, minute: number) => r.runs.find((row) => Math.abs((row.minute ?? NaN) - minute) < 0.1);
  const cell = (row: RunRecord | undefined) => (row
    ? `${fmt(row.rssFloorMiB ?? NaN, 0)} / ${fmt(row.threadArenasMiB ?? NaN, 0)} / ${fmt(row.mainArenaMiB ?? NaN, 0)} / ${fmt(row.writerHeapTotalMiB ?? NaN, 0)}`
    : '');
  const verdict = (r: SoakResult) => soakVerdictText(soakVerdict(r.runs, r.sizes.streams ?? NaN), r.runs.filter((row) => (row.minute ?? 0) > 1.01).length >= 2);
  return `### Churn soak: runs compared

The same soak with something changed, kept with \`BENCH_SOAK_VARIANT=<name>\` in \`bench/results/churn-soak-<name>.json\`.
Each cell: RSS (lowest read in the minute) / other threads' malloc arenas / main arena / writer thread's heap total, MiB.

| minute | ${runs.map(([name]) => name).join(' | ')} |
|---|${runs.map(() => '---').join('|')}|
${minutes.map((m) => `| ${m} | ${runs.map(([, r]) => cell(at(r, m))).join(' | ')} |`).join('\n')}

${runs.map(([name, r]) => `- **${name}**: ${r.date.slice(0, 10)}, ${r.sizes.minutes} minutes${r.serverEnv ? `, \`${r.serverEnv}\`` : ''}${r.note ? `, ${r.note}` : ''}; verdict: ${verdict(r)}.`).join('\n')}
`;
}

// A profile named "before" is the reference the others are read against.
const beforeFirst = (a: string, b: string) => Number(b.includes('before')) - Number(a.includes('before')) || a.localeCompare(b);

/** The stored CPU-per-request table and CPU profile summaries, when present. */
function costSection(): string {
  const parts: string[] = [];
  const cost = `${RESULTS_DIR}/request-cost.md`;
  if (existsSync(cost)) parts.push(`### CPU per request (\`npm run bench:request-cost\`)\n\n${readFileSync(cost, 'utf8').trim()}\n`);
  const store = `${RESULTS_DIR}/ingest-store.md`;
  if (existsSync(store)) parts.push(`### Publishes, large publishes and batches (\`npm run build && node dist/bench/ingest-store.js http sqlite postgres\`)\n\n${readFileSync(store, 'utf8').trim()}\n`);
  const fanout = `${RESULTS_DIR}/fanout-cpu.md`;
  if (existsSync(fanout)) parts.push(`### CPU per broadcast delivery (\`npm run bench:fanout-cpu\`)\n\n${readFileSync(fanout, 'utf8').trim()}\n`);
  const profiles = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => /^profile-.*\.txt$/.test(f)).sort(beforeFirst) : [];
  for (const f of profiles) {
    parts.push(`### CPU profile: ${basename(f, '.txt').replace(/^profile-/, '')} (\`npm run bench:profile\`)\n\n\`\`\`\n${readFileSync(`${RESULTS_DIR}/${f}`, 'utf8').trim()}\n\`\`\`\n`);
  }
  return parts.join('\n');
}

/** Writes the document and charts from whatever results are stored; returns the document. */
export function writeReport(): string {
  const runFile = `${RESULTS_DIR}/run.json`;
  const own = existsSync(runFile) ? ownSection(JSON.parse(readFileSync(runFile, 'utf8')) as BenchResults) : null;
  const deliveryFile = `${RESULTS_DIR}/delivery.json`;
  const deliveryResults = existsSync(deliveryFile) ? JSON.parse(readFileSync(deliveryFile, 'utf8')) as DeliveryResults : null;
  const delivery = deliveryResults ? deliverySection(deliveryResults) : null;
  const soak = deliveryResults?.scenarios['churn-soak'];
  const compareFiles = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => /^compare-.*\.jsonl$/.test(f)).sort() : [];
  // Oldest run first, by the date its harness recorded.
  const runDate = (r: CompareRun) => /^date: (.*)$/m.exec(r.env)?.[1] ?? r.name;
  const side = compareSection(compareFiles.map((f) => readCompare(`${RESULTS_DIR}/${f}`)).sort((a, b) => runDate(a).localeCompare(runDate(b))));
  mkdirSync(CHART_DIR, { recursive: true });
  for (const [name, svg] of Object.entries({ ...side.charts, ...(own?.charts ?? {}) })) writeFileSync(`${CHART_DIR}/${name}`, svg);
  const doc = `${readFileSync('bench/benchmarks-intro.md', 'utf8').trim()}

## Herald beside nchan and better-sse

${side.text || 'No side-by-side results are stored (bench/results/compare-*.jsonl).'}

## Herald's own scenarios (\`npm run bench\`)

${own ? `${own.text}
![ingest rates](benchmarks/own-ingest-rate.svg)
![latency](benchmarks/own-latency.svg)
` : 'No results are stored yet: run `npm run bench`.'}

## Delivery under load (\`BENCH_ONLY=expiry-stall,closed-sockets,burst,burst-large npm run bench\`)

${delivery ?? 'No results are stored yet: run `BENCH_ONLY=expiry-stall,closed-sockets,burst,burst-large npm run bench`.'}

## Churn soak (\`BENCH_ONLY=churn-soak npm run bench\`)

${soak ? soakSection(soak) : 'No results are stored yet: run `BENCH_ONLY=churn-soak npm run bench` (10 minutes).'}
${soakVariantsSection(soak) ? `\n${soakVariantsSection(soak)}` : ''}${costSection() ? `\n## Where the CPU goes\n\n${costSection()}` : ''}`;
  writeFileSync(DOC, doc);
  return doc;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) console.log(writeReport());
