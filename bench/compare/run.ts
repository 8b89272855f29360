// `npm run bench:compare`: Herald beside nchan and better-sse, each started here from its
// package, driven in turn by the same load generator (loadgen.ts, reader threads on raw
// sockets) through the same scenarios (scenarios.ts). Results are JSON lines, one per peer,
// scenario and repetition, in bench/results/compare-<name>.jsonl beside the run's machine
// description (compare-<name>.env.txt); the table is printed and docs/benchmarks.md rewritten
// (bench/report.ts). With COMPARE_OUT set, results go to that folder and the docs are left alone.
// Knobs are read here only; see bench/benchmarks-intro.md.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { peersNamed, type Peer } from './peers.js';
import { SCENARIOS, type CompareRecord, type ScenarioName } from './records.js';
import { runScenario, type Sizes } from './scenarios.js';
import { RunnerRun, runnerTable } from './table.js';

const env = process.env;
const num = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const parsed = Number(v);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`${name}=${v}: expected a number ≥ 0`);
  return parsed;
};
const list = (name: string, fallback: string) => (env[name] || fallback).split(/[\s,]+/).filter(Boolean);
const rates = (name: string, fallback: string) => list(name, fallback).map(Number).filter((r) => r > 0);

const streams = num('STREAMS', 10_000);
const sizes: Sizes = {
  streams,
  rampRate: num('RAMP_RATE', 4000),
  openConcurrency: num('OPEN_CONCURRENCY', 256),
  settleS: num('SETTLE_S', 2),
  broadcastRate: num('BROADCAST_RATE', 2),
  durationS: num('DURATION_S', 15),
  maxStreams: num('MAX_STREAMS', Math.min(1000, streams)),
  maxRates: rates('MAX_RATES', '25,50,100,200,400,800,1600'),
  maxPublishers: num('MAX_PUBLISHERS', 4),
  stepS: num('STEP_S', 5),
  targetedRate: num('TARGETED_RATE', 2000),
  targetedPublishers: num('TARGETED_PUBLISHERS', 8),
  ingestUsers: num('INGEST_USERS', Math.min(1000, streams)),
  ingestRates: rates('INGEST_RATES', '1000,2000,4000,6000,8000,10000,12000,16000,20000'),
  ingestPublishers: num('INGEST_PUBLISHERS', 32),
  drainS: num('DRAIN_S', 5),
  threads: num('THREADS', availableParallelism()),
};
const reps = num('REPS', 1);
const deadlineS = num('DEADLINE_S', 3600);
const scenarios = list('SCENARIOS', SCENARIOS.join(',')) as ScenarioName[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}": SCENARIOS takes ${SCENARIOS.join(', ')}`);
const heraldEnv = Object.fromEntries(list('HERALD_EXTRA_ENV', '').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
const name = env.COMPARE_NAME || `run-${stamp}`;
const toDocs = !env.COMPARE_OUT;
const outDir = env.COMPARE_OUT || 'bench/results';
const resultsFile = join(outDir, `compare-${name}.jsonl`);

function machine(peers: Peer[]): string {
  const sh = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim(); } catch { return '?'; } };
  return [
    `date: ${new Date().toISOString().slice(0, 16)}Z`,
    `uname: ${sh('uname', ['-srm'])}`,
    `cpus: ${cpus().length} (${cpus()[0]?.model ?? '?'})`,
    `mem: ${Math.round(totalmem() / 2 ** 30)} GiB`,
    `nofile: ${sh('sh', ['-c', 'echo soft $(ulimit -Sn) hard $(ulimit -Hn)'])}`,
    `node: ${process.version}`,
    `load average at the start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    ...peers.map((p) => `${p.name}: ${p.version()}`),
    `runner: npm run bench:compare, ${sizes.threads} reader threads`,
    `PEERS=${peers.map((p) => p.name).join(',')} SCENARIOS=${scenarios.join(',')} REPS=${reps}`,
    `sizes: ${JSON.stringify(sizes)}`,
    ...(Object.keys(heraldEnv).length ? [`HERALD_EXTRA_ENV=${list('HERALD_EXTRA_ENV', '').join(' ')}`] : []),
  ].join('\n');
}

async function main(): Promise<number> {
  const wanted = peersNamed(list('PEERS', 'nchan,better-sse,herald'), { nchanWorkers: num('NCHAN_WORKERS', 1), heraldEnv, heraldNodeArgs: list('HERALD_NODE_ARGS', '') });
  const users = Math.max(sizes.streams, sizes.maxStreams, sizes.ingestUsers);
  const peers: Peer[] = [];
  for (const peer of wanted) {
    try {
      await peer.prepare(users);
      peers.push(peer);
    } catch (err) {
      console.error(`leaving ${peer.name} out: ${(err as Error).message}`);
    }
  }
  if (peers.length === 0) { console.error('no peer can run'); return 1; }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(resultsFile.replace(/\.jsonl$/, '.env.txt'), `${machine(peers)}\n`);
  writeFileSync(resultsFile, '');
  const work = mkdtempSync(join(tmpdir(), 'herald-compare-'));
  let failures = 0;
  // The servers' folders (databases, logs) go with the run, also an interrupted one, unless
  // a scenario failed or KEEP_LOGS asks to keep them.
  process.on('exit', () => { if (failures === 0 && !env.KEEP_LOGS) rmSync(work, { recursive: true, force: true }); });
  const t0 = Date.now();
  const records: CompareRecord[] = [];
  // The peers take turns within each scenario, so that what they are compared on ran minutes,
  // not the whole run, apart: on a shared machine the load from elsewhere changes meanwhile.
  for (let rep = 1; rep <= reps; rep++) {
    for (const scenario of scenarios) {
      for (const peer of peers) {
        if ((Date.now() - t0) / 1000 > deadlineS) { console.log(`DEADLINE_S reached: ${peer.name}/${scenario}/${rep} left out`); continue; }
        const dir = join(work, `${peer.name}-${scenario}-${rep}`);
        mkdirSync(dir);
        let server;
        try {
          server = await peer.start(dir);
          const record = await runScenario(scenario, peer, server, sizes, rep);
          records.push(record);
          appendFileSync(resultsFile, `${JSON.stringify(record)}\n`);
          console.log(summary(record));
        } catch (err) {
          failures++;
          console.error(`${peer.name}/${scenario}/${rep} failed: ${(err as Error).stack ?? String(err)}`);
          try { console.error(readFileSync(join(dir, `${peer.name}.log`), 'utf8').split('\n').slice(-10).join('\n')); } catch { /* no log */ }
        } finally {
          await server?.stop();
        }
      }
    }
  }
  if (failures > 0 || env.KEEP_LOGS) console.log(`server logs: ${work}`);
  // Other work on the machine moves every figure: the run says how busy it was.
  appendFileSync(resultsFile.replace(/\.jsonl$/, '.env.txt'), `load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(`\n${runnerTable(new RunnerRun(records))}\n`);
  console.log(`results: ${resultsFile}`);
  if (toDocs) {
    const { writeReport } = await import('../report.js');
    writeReport();
    console.log('docs/benchmarks.md rewritten from bench/results/');
  }
  return failures === 0 ? 0 : 1;
}

function summary(r: CompareRecord): string {
  const head = `${r.label}: ${r.conns_connected}/${r.conns_target} streams in ${r.open_s} s`
    + (r.conns_failed ? ` (${JSON.stringify(r.open_statuses)})` : '')
    + (r.kb_per_conn_rss !== undefined ? `, ${r.kb_per_conn_rss} KiB RSS per stream` : '');
  const steps = r.steps.map((s) => `  step ${s.step}: ${s.rate_target}/s asked, ${s.rate_achieved}/s achieved, `
    + `${s.delivered}/${s.expected} delivered, p50 ${s.latency_ms.p50} ms, p99 ${s.latency_ms.p99} ms, publish answered in ${s.publish_http_ms.p50} ms (p50), `
    + `server CPU ${s.server_cpu_pct}%, generator CPU ${s.loadgen_cpu_pct}%${s.pub_errors ? `, ${s.pub_errors} publish errors ${JSON.stringify(s.pub_statuses)}` : ''}`);
  return [head, ...steps].join('\n');
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
