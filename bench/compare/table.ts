// The comparison table of one run of the runner: a row per figure, a column per peer, each
// cell the median over repetitions. Printed by the runner and written into docs/benchmarks.md
// by bench/report.ts, so both read the same figures the same way.
import { held, type CompareRecord, type StepRecord } from './records.js';

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const k = Math.floor(v.length / 2);
  return v.length % 2 ? (v[k] as number) : ((v[k - 1] as number) + (v[k] as number)) / 2;
}

const fmt = (n: number, digits: number) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–');
const first = (r: CompareRecord): StepRecord | undefined => r.steps[0];
const bestHeld = (r: CompareRecord, pick: (s: StepRecord) => number) => Math.max(0, ...r.steps.filter(held).map(pick));

export const runnerFigures = {
  openS: (r: CompareRecord) => r.open_s,
  rssPerStream: (r: CompareRecord) => (r.kb_per_conn_rss !== undefined && r.kb_per_conn_rss > 0 ? r.kb_per_conn_rss : NaN),
  p50: (r: CompareRecord) => first(r)?.latency_ms.p50 ?? NaN,
  p90: (r: CompareRecord) => first(r)?.latency_ms.p90 ?? NaN,
  p99: (r: CompareRecord) => first(r)?.latency_ms.p99 ?? NaN,
  max: (r: CompareRecord) => first(r)?.latency_ms.max ?? NaN,
  lost: (r: CompareRecord) => first(r)?.lost ?? NaN,
  achieved: (r: CompareRecord) => first(r)?.rate_achieved ?? NaN,
  cpu: (r: CompareRecord) => first(r)?.server_cpu_pct ?? NaN,
  bestDeliveries: (r: CompareRecord) => bestHeld(r, (s) => s.deliveries_per_s),
  bestIngest: (r: CompareRecord) => bestHeld(r, (s) => s.rate_achieved),
};

export class RunnerRun {
  readonly peers: string[] = [];
  private readonly by = new Map<string, CompareRecord[]>();

  constructor(readonly records: CompareRecord[]) {
    for (const r of records) {
      if (!this.peers.includes(r.peer)) this.peers.push(r.peer);
      const key = `${r.peer}/${r.scenario}`;
      this.by.set(key, [...(this.by.get(key) ?? []), r]);
    }
  }

  of(peer: string, scenario: string): CompareRecord[] { return this.by.get(`${peer}/${scenario}`) ?? []; }
  ran(scenario: string): boolean { return this.peers.some((p) => this.of(p, scenario).length > 0); }
  figure(peer: string, scenario: string, pick: (r: CompareRecord) => number): number { return median(this.of(peer, scenario).map(pick)); }
  /** A scenario's sizes as recorded (the first record that ran it). */
  sizes(scenario: string): Record<string, number> {
    for (const p of this.peers) { const r = this.of(p, scenario)[0]; if (r) return r.sizes; }
    return {};
  }
  reps(): number { return Math.max(0, ...this.records.map((r) => r.rep)); }
}

const n = (v: number | undefined) => fmt(v ?? NaN, 0);

/** The markdown table; rows of scenarios that did not run are left out. */
export function runnerTable(run: RunnerRun): string {
  const rows: string[] = [];
  const row = (title: string, scenario: string, pick: (r: CompareRecord) => number, digits: number) => {
    if (run.ran(scenario)) rows.push(`| ${title} | ${run.peers.map((p) => fmt(run.figure(p, scenario, pick), digits)).join(' | ')} |`);
  };
  const o = run.sizes('open'), i = run.sizes('idle'), b = run.sizes('broadcast'), m = run.sizes('max-broadcast'), t = run.sizes('targeted'), g = run.sizes('ingest');
  row(`open ${n(o.streams)} streams (${n(o.concurrency)} at a time): seconds until all are open`, 'open', runnerFigures.openS, 2);
  row(`open: streams that opened, of ${n(o.streams)}`, 'open', (r) => r.conns_connected, 0);
  row(`${n(i.streams)} idle streams: RSS per stream, KiB`, 'idle', runnerFigures.rssPerStream, 1);
  row(`broadcast to ${n(b.streams)} streams, ${n(b.rate)} msg/s for ${n(b.seconds)} s: p50 ms`, 'broadcast', runnerFigures.p50, 2);
  row('broadcast: p99 ms', 'broadcast', runnerFigures.p99, 2);
  row('broadcast: max ms', 'broadcast', runnerFigures.max, 1);
  row('broadcast: lost', 'broadcast', runnerFigures.lost, 0);
  row(`broadcast at ${n(m.streams)} streams, stepped rate: highest deliveries/s held`, 'max-broadcast', runnerFigures.bestDeliveries, 0);
  row(`targeted, ${n(t.streams)} users, ${n(t.rate)}/s from ${n(t.publishers)} publishers: achieved /s`, 'targeted', runnerFigures.achieved, 0);
  row('targeted: p50 ms', 'targeted', runnerFigures.p50, 2);
  row('targeted: p99 ms', 'targeted', runnerFigures.p99, 2);
  row('targeted: lost', 'targeted', runnerFigures.lost, 0);
  row('targeted: server CPU %', 'targeted', runnerFigures.cpu, 0);
  row(`ingest, ${n(g.streams)} users, ${n(g.publishers)} publishers, stepped rate: highest rate held /s`, 'ingest', runnerFigures.bestIngest, 0);
  if (rows.length === 0) return 'No scenario ran.';
  const reps = run.reps();
  return [
    `Medians of ${reps} repetition${reps === 1 ? '' : 's'}.`,
    '',
    `| scenario | ${run.peers.join(' | ')} |`,
    `|---|${run.peers.map(() => '---').join('|')}|`,
    ...rows,
  ].join('\n');
}
