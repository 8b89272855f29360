// The churn soak's streams (bench/churn-soak.ts), in a worker thread so that reading them
// does not delay the publishers and the sampler on the main thread. Slot i is user
// `soak-<i>`; it holds one stream at a time, closes it after a random lifetime and opens the
// next one at once. Even slots send the last id they received as Last-Event-ID (a resuming
// client), odd slots send none (a page reload). A light reader: per event it keeps only the
// cursor's user and broadcast sequences, and checks them.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { mintToken } from '../src/auth/jwt.js';

export interface ChurnSetup {
  url: string;
  secret: string;
  streams: number;
  minLifeMs: number;
  maxLifeMs: number;
  /** A closed slot waits a random time up to this before its next stream, as a client honouring `retry:` does (ms). */
  maxAwayMs: number;
  /** The worker stops by itself after this long, whatever the main thread says (ms). */
  maxRunMs: number;
}

export type ChurnCommand =
  | { cmd: 'start' }
  | { cmd: 'stats' }
  /** Stop closing streams; every slot ends on an open stream, and cursor slots are waited for until they have `expected`. */
  | { cmd: 'finish'; expectedPerUser: number[]; broadcasts: number; timeoutMs: number }
  | { cmd: 'exit' };

/** Counters since the worker started; the main thread takes differences. */
export interface ChurnStats {
  /** Streams open now (response head received, not yet closed). */
  open: number;
  /** Streams whose `ready` arrived. */
  opened: number;
  /** Streams this reader closed at the end of their lifetime. */
  closedByUs: number;
  /** Streams the server or the network ended before their lifetime. */
  endedEarly: number;
  /** Opens answered with an error or a status other than 200 (retried after 500 ms). */
  openErrors: number;
  notifications: number;
  /** An event whose cursor skipped a sequence on its topic. */
  gaps: number;
  /** An event whose cursor did not move forward (a repeat). */
  duplicates: number;
  /** `reset` events: a cursor the server could not resume. */
  resets: number;
  /** A cursor sent as Last-Event-ID that `ready` did not resume from. */
  resumeMismatches: number;
  /** Streams opened with a cursor. */
  cursorOpens: number;
  /** Events created before their stream was asked for, received on a stream opened with a cursor: what it missed while away. */
  caughtUp: number;
  /** Same, on streams opened without a cursor: they start at the heads, so only those committed after the stream joined (live). */
  oldOnFresh: number;
}

export interface FinishResult {
  /** Cursor slots whose sequences reached every notification published to them and every broadcast. */
  complete: number;
  cursorSlots: number;
  /** Cursor slots short of what was published to them, summed over slots. */
  missing: number;
  stats: ChurnStats;
}

const setup = workerData as ChurnSetup;
const stats: ChurnStats = {
  open: 0, opened: 0, closedByUs: 0, endedEarly: 0, openErrors: 0, notifications: 0, gaps: 0, duplicates: 0, resets: 0,
  resumeMismatches: 0, cursorOpens: 0, caughtUp: 0, oldOnFresh: 0,
};
const deadline = Date.now() + setup.maxRunMs;
let churning = false;
let stopped = false;

interface Slot {
  user: string;
  token: string;
  withCursor: boolean;
  /** The last id received (any connection of this slot); sent back by cursor slots. */
  lastId: string | null;
  /** User and broadcast sequences of `lastId`. */
  userSeq: number;
  broadcastSeq: number;
  request: ClientRequest | null;
  lifeTimer: NodeJS.Timeout | null;
  /** The open stream's lifetime is over: this reader is closing it. */
  lifeOver: boolean;
  /** True from an open until its stream has closed and no retry is pending. */
  busy: boolean;
}

/** `<epoch>.<user seq>.<broadcast seq>.k<check>…` (docs/protocol.md); null when the id is not a cursor. */
function seqsOf(id: string): [number, number] | null {
  const [, user, broadcast] = id.split('.', 3);
  const u = Number(user);
  const b = Number(broadcast);
  return Number.isInteger(u) && Number.isInteger(b) ? [u, b] : null;
}

const CREATED_AT = /"created_at":"([^"]+)"/;

function open(slot: Slot): void {
  if (slot.busy || stopped || Date.now() > deadline) return;
  slot.busy = true;
  slot.lifeOver = false;
  const cursor = slot.withCursor ? slot.lastId : null;
  if (cursor !== null) stats.cursorOpens++;
  const askedAt = Date.now();
  const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${slot.token}` };
  if (cursor !== null) headers['last-event-id'] = cursor;
  const request = httpRequest(`${setup.url}/v1/stream`, { agent: false, headers });
  slot.request = request;
  let ended = false;
  const retryLater = () => {
    if (ended) return;
    ended = true;
    slot.request = null;
    setTimeout(() => { slot.busy = false; open(slot); }, 500).unref();
  };
  let responded = false;
  request.on('error', () => {
    if (ended || responded) return;
    if (slot.lifeOver) {
      // Closed by its lifetime before the head came back.
      ended = true;
      slot.request = null;
      slot.busy = false;
      stats.closedByUs++;
      open(slot);
      return;
    }
    stats.openErrors++;
    retryLater();
  });
  request.on('response', (res) => {
    responded = true;
    if (res.statusCode !== 200) {
      res.resume();
      stats.openErrors++;
      retryLater();
      return;
    }
    stats.open++;
    res.setEncoding('utf8');
    let partial = '';
    let type = 'message';
    let id: string | null = null;
    let data = '';
    // This connection's position; null until `ready`.
    let position: [number, number] | null = null;
    const dispatch = () => {
      if (type === 'ready' && id !== null) {
        stats.opened++;
        position = seqsOf(id);
        const sent = cursor === null ? null : seqsOf(cursor);
        if (sent !== null && position !== null && (sent[0] !== position[0] || sent[1] !== position[1])) stats.resumeMismatches++;
        slot.lastId = id;
        if (churning) startLife(slot);
      } else if (type === 'reset') {
        stats.resets++;
        if (id !== null) { position = seqsOf(id); slot.lastId = id; }
      } else if (type === 'notification' && id !== null) {
        stats.notifications++;
        const next = seqsOf(id);
        if (next !== null && position !== null) {
          const du = next[0] - position[0];
          const db = next[1] - position[1];
          if (!((du === 1 && db === 0) || (du === 0 && db === 1))) {
            if (du <= 0 && db <= 0) stats.duplicates++;
            else stats.gaps++;
          }
          position = next;
          slot.userSeq = next[0];
          slot.broadcastSeq = next[1];
        }
        slot.lastId = id;
        const created = CREATED_AT.exec(data)?.[1];
        if (created !== undefined && Date.parse(created) < askedAt) {
          if (cursor !== null) stats.caughtUp++;
          else stats.oldOnFresh++;
        }
      }
    };
    res.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          dispatch();
          type = 'message';
          id = null;
          data = '';
        } else if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data = line;
      }
    });
    res.on('error', () => {});
    res.on('close', () => {
      stats.open--;
      if (slot.lifeTimer !== null) { clearTimeout(slot.lifeTimer); slot.lifeTimer = null; }
      slot.request = null;
      if (slot.lifeOver) {
        stats.closedByUs++;
        ended = true;
        slot.busy = false;
        // Away for a moment (what it misses there comes back by cursor), then the next stream.
        if (churning) {
          slot.busy = true;
          setTimeout(() => { slot.busy = false; open(slot); }, Math.random() * setup.maxAwayMs).unref();
        } else {
          open(slot);
        }
        return;
      }
      stats.endedEarly++;
      retryLater();
    });
  });
  request.end();
}

function startLife(slot: Slot): void {
  const life = setup.minLifeMs + Math.random() * (setup.maxLifeMs - setup.minLifeMs);
  slot.lifeTimer = setTimeout(() => {
    slot.lifeTimer = null;
    slot.lifeOver = true;
    slot.request?.destroy();
  }, life);
}

const slots: Slot[] = [];
for (let i = 0; i < setup.streams; i++) {
  const user = `soak-${i}`;
  slots.push({
    user, token: await mintToken(setup.secret, { sub: user, scope: 'subscribe', ttlS: 24 * 3600 }), withCursor: i % 2 === 0,
    lastId: null, userSeq: 0, broadcastSeq: 0, request: null, lifeTimer: null, lifeOver: false, busy: false,
  });
}

/** Opens every slot's first stream, 64 at a time; resolves when all have `ready` or the wait ends. */
async function openAll(): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < slots.length) {
      const slot = slots[next++] as Slot;
      const before = stats.opened;
      open(slot);
      const until = Date.now() + 30_000;
      while (stats.opened === before && slot.lastId === null && Date.now() < until) await pause(5);
    }
  }));
  const until = Date.now() + 120_000;
  while (slots.some((s) => s.lastId === null) && Date.now() < until) await pause(50);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function finish(expectedPerUser: number[], broadcasts: number, timeoutMs: number): Promise<FinishResult> {
  churning = false;
  for (const slot of slots) {
    if (slot.lifeTimer !== null) { clearTimeout(slot.lifeTimer); slot.lifeTimer = null; }
    if (!slot.busy) open(slot);
  }
  const cursorSlots = slots.filter((s) => s.withCursor);
  const caughtUp = (s: Slot, i: number) => s.userSeq >= (expectedPerUser[i] ?? 0) && s.broadcastSeq >= broadcasts;
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && !slots.every((s, i) => !s.withCursor || caughtUp(s, i))) await pause(100);
  let missing = 0;
  slots.forEach((s, i) => {
    if (s.withCursor) missing += Math.max(0, (expectedPerUser[i] ?? 0) - s.userSeq) + Math.max(0, broadcasts - s.broadcastSeq);
  });
  return { complete: cursorSlots.filter((s) => caughtUp(s, slots.indexOf(s))).length, cursorSlots: cursorSlots.length, missing, stats: { ...stats } };
}

parentPort?.on('message', (command: ChurnCommand) => {
  if (command.cmd === 'start') {
    churning = true;
    for (const slot of slots) if (slot.lifeTimer === null && slot.request !== null) startLife(slot);
  } else if (command.cmd === 'stats') {
    parentPort?.postMessage({ ...stats });
  } else if (command.cmd === 'finish') {
    void finish(command.expectedPerUser, command.broadcasts, command.timeoutMs).then((result) => parentPort?.postMessage(result));
  } else {
    stopped = true;
    churning = false;
    for (const slot of slots) {
      if (slot.lifeTimer !== null) clearTimeout(slot.lifeTimer);
      slot.request?.destroy();
    }
    parentPort?.close();
  }
});

await openAll();
parentPort?.postMessage({ ready: slots.filter((s) => s.lastId !== null).length });
