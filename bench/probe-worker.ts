// The expiry scenario's observer (bench/delivery.ts), in a worker thread: its clock and its
// event loop are not those of the bench's main thread, which meanwhile reads 10,000 streams,
// so a late answer here is the server's lateness, not the reader's. Asks /healthz every
// `healthzEveryMs` and publishes to the probe stream every `publishEveryMs` from 'start' to
// 'stop', then posts both lists of times (ms).
import { parentPort, workerData } from 'node:worker_threads';
import { openStream } from '../test/helpers/sse-client.js';
import { agent, healthzMs, publishOk } from './http.js';

export interface ProbeSetup { url: string; publishToken: string; probeToken: string; probeUser: string }
export type ProbeCommand = { cmd: 'start'; healthzEveryMs: number; publishEveryMs: number } | { cmd: 'stop' } | { cmd: 'exit' };
export interface ProbeTimes { healthz: number[]; publishes: number[] }

/** A wait of ours, never more than 5 minutes: a probe left running by a failed scenario ends by itself. */
const MAX_MS = 300_000;
const setup = workerData as ProbeSetup;
const server = { url: setup.url };
const probe = await openStream(setup.url, setup.probeToken);
await probe.waitForEvents('ready', 1, 30_000);
let running = false;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollHealthz(everyMs: number, until: number, into: number[]): Promise<void> {
  while (running && Date.now() < until) {
    into.push(await healthzMs(server));
    await pause(everyMs);
  }
}

async function publishes(everyMs: number, until: number, into: number[]): Promise<void> {
  while (running && Date.now() < until) {
    const t0 = performance.now();
    const arrived = probe.waitForEvents('notification', probe.of('notification').length + 1, 60_000);
    await publishOk(server, setup.publishToken, { recipients: [setup.probeUser], type: 'bench', content: `probe ${into.length}` });
    await arrived;
    into.push(performance.now() - t0);
    await pause(everyMs);
  }
}

let measuring: Promise<ProbeTimes> | null = null;
parentPort?.on('message', (command: ProbeCommand) => {
  if (command.cmd === 'start') {
    running = true;
    const times: ProbeTimes = { healthz: [], publishes: [] };
    const until = Date.now() + MAX_MS;
    measuring = Promise.all([pollHealthz(command.healthzEveryMs, until, times.healthz), publishes(command.publishEveryMs, until, times.publishes)]).then(() => times);
  } else if (command.cmd === 'stop') {
    running = false;
    void measuring?.then((times) => parentPort?.postMessage(times));
  } else {
    probe.close();
    agent.destroy();
    parentPort?.close();
  }
});
parentPort?.postMessage('ready');
