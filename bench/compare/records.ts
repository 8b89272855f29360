// What one run of a scenario against one peer records: a JSON line of
// bench/results/compare-<name>.jsonl. The fields that the external harness's lines also had
// (label, kb_per_conn_rss, steps with rate_target, rate_achieved, lost, pub_errors, expected,
// deliveries_per_s, server_cpu_pct and latency_ms) mean the same here. No side effects:
// bench/report.ts reads the lines through this module.
import type { Memory } from './proc-stats.js';

export const SCENARIOS = ['open', 'idle', 'broadcast', 'max-broadcast', 'targeted', 'ingest'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface StepRecord {
  step: number;
  rate_target: number;
  rate_achieved: number;
  publish_s: number;
  published: number;
  pub_errors: number;
  pub_statuses: Record<string, number>;
  /** A publish request's round trip, from writing it to the end of its answer. */
  publish_http_ms: { p50: number; p90: number; p99: number; max: number };
  expected: number;
  delivered: number;
  lost: number;
  loss_pct: number;
  dup: number;
  deliveries_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  server_cpu_pct: number;
  loadgen_cpu_pct: number;
}

export interface CompareRecord {
  /** Tells these lines from the external harness's. */
  runner: 'bench/compare';
  label: string;
  peer: string;
  scenario: ScenarioName;
  rep: number;
  time: string;
  sizes: Record<string, number>;
  conns_target: number;
  conns_connected: number;
  conns_failed: number;
  open_statuses: Record<string, number>;
  open_s: number;
  disconnects: number;
  server_group: number;
  server_pids: number[];
  mem_before?: Memory;
  mem_connected?: Memory;
  kb_per_conn_rss?: number;
  kb_per_conn_pss?: number;
  steps: StepRecord[];
  wall_s: number;
}

/** No loss, no publish error, p99 within a second. */
export const held = (s: StepRecord) => s.lost === 0 && s.pub_errors === 0 && s.latency_ms.p99 <= 1000;
