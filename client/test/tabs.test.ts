import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { SharedHeraldStream } from '../src/tabs.js';
import type { NotificationEvent, StreamState } from '../src/types.js';
import { notification, readyEvent, sseEvent, sseHead, startScriptedServer, waitFor } from './scripted-server.js';

/** Web Locks' exclusive mode in miniature: one holder per name, the rest queue in order. */
class FakeLocks {
  readonly #queues = new Map<string, Array<() => void>>();
  readonly #held = new Set<string>();

  request(name: string, callback: () => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const run = (): void => {
        this.#held.add(name);
        Promise.resolve()
          .then(callback)
          .then(resolve, reject)
          .finally(() => {
            this.#held.delete(name);
            this.#queues.get(name)?.shift()?.();
          });
      };
      if (this.#held.has(name)) {
        const queue = this.#queues.get(name) ?? [];
        queue.push(run);
        this.#queues.set(name, queue);
      } else {
        run();
      }
    });
  }
}

test('tabs share one stream; a follower takes over from the last cursor when the leader closes', async (t) => {
  // A server with a store: notifications are published over time, and every connection
  // sends all of them after its cursor, as Herald does on resume.
  let published = 0;
  const publishing = setInterval(() => {
    if (published < 6) published += 1;
  }, 15);
  const server = await startScriptedServer([
    (req, res) => {
      sseHead(res);
      let cursor = Number(String(req.headers['last-event-id'] ?? 'e.0').split('.')[1]);
      res.write(readyEvent(`e.${cursor}`));
      const timer = setInterval(() => {
        while (cursor < published) {
          cursor += 1;
          res.write(sseEvent('notification', notification(`n${cursor}`), `e.${cursor}`));
        }
      }, 5);
      res.on('close', () => clearInterval(timer));
    },
  ]);
  const locks = new FakeLocks() as unknown as LockManager;
  const key = `alice-${randomUUID()}`;
  const tabs = [0, 1, 2].map(() => new SharedHeraldStream({ url: server.url, key, locks, minDelayMs: 10, maxDelayMs: 20 }));
  const got = tabs.map(() => [] as NotificationEvent[]);
  const states = tabs.map(() => [] as StreamState[]);
  tabs.forEach((tab, i) => {
    tab.on('notification', (n) => got[i]?.push(n));
    tab.on('state', ({ newState }) => states[i]?.push(newState));
  });
  t.after(async () => {
    clearInterval(publishing);
    for (const tab of tabs) tab.close();
    await server.close();
  });
  for (const tab of tabs) tab.start();

  await waitFor(() => got.every((g) => g.length >= 2), 'every tab sees the first notifications');
  assert.equal(server.requests.length, 1, 'one stream for three tabs');
  assert.deepEqual(
    tabs.map((tab) => tab.isLeader),
    [true, false, false],
  );
  assert.deepEqual(states[1], ['connecting', 'open']);

  tabs[0]?.close();
  await waitFor(() => server.requests.length === 2, 'the next tab connects');
  assert.equal(tabs[1]?.isLeader, true);
  assert.match(String(server.requests[1]?.headers['last-event-id']), /^e\.\d+$/);
  await waitFor(() => (got[2]?.length ?? 0) === 6, 'the remaining tabs get everything');
  for (const i of [1, 2]) {
    assert.deepEqual(
      got[i]?.map((n) => n.id),
      ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'],
      `tab ${i} saw each notification once`,
    );
  }
  assert.equal(server.requests.length, 2);
});
