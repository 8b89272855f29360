import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Metrics } from '../../src/metrics.js';
import type { EncodedEvent, StreamSession } from '../../src/sse/session.js';
import { TopicFanout } from '../../src/sse/topic-fanout.js';
import type { NotificationStore, TopicEvent } from '../../src/store/store.js';

const TOPIC = 'broadcast';

function eventAt(seq: number, id = `n${seq}`): TopicEvent {
  return {
    topic: TOPIC, seq,
    notification: {
      id, recipient: null, topic: TOPIC, type: 't', title: null, content: 'c', data: null, status: 'unread',
      seen_at: null, read_at: null, archived_at: null, created_at: new Date().toISOString(), expires_at: null, snoozed_until: null,
    },
  };
}

/** A store holding one topic's events; it answers only what the fan-out asks. */
function storeOf(events: TopicEvent[], head: number): NotificationStore & { reads: number } {
  const store = {
    reads: 0,
    heads: async () => new Map([[TOPIC, head]]),
    eventsAfter: async (_topic: string, after: number) => {
      store.reads += 1;
      return events.filter((e) => e.seq > after);
    },
    idsAt: async () => new Map<string, string>(),
  };
  return store as unknown as NotificationStore & { reads: number };
}

function reader(): StreamSession & { got: EncodedEvent[]; closedFor: string | null } {
  const session = {
    audience: { user: 'u', topics: [TOPIC] },
    got: [] as EncodedEvent[],
    closedFor: null as string | null,
    offer(event: EncodedEvent) {
      session.got.push(event);
    },
    close(reason: string) {
      session.closedFor = reason;
    },
  };
  return session as unknown as StreamSession & { got: EncodedEvent[]; closedFor: string | null };
}

function fanout(store: NotificationStore): TopicFanout {
  return new TopicFanout({ store, lossless: false, log: pino({ level: 'silent' }), metrics: new Metrics(), clock: { now: () => Date.now() } });
}

test('the next event of a topic goes to each of its streams as one encoded object', async () => {
  const topics = fanout(storeOf([], 4));
  const a = reader();
  const b = reader();
  await topics.join(a);
  await topics.join(b);
  topics.onNotification(eventAt(5));
  topics.onNotification(eventAt(5)); // a repeated hint
  assert.equal(a.got.length, 1);
  assert.equal(a.got[0], b.got[0], 'the same bytes for every reader');
  assert.equal(a.got[0]?.seq, 5);
});

test('a hint past a gap makes the node read the gap from the store, then deliver in order', async () => {
  const store = storeOf([eventAt(5), eventAt(6), eventAt(7)], 4);
  const topics = fanout(store);
  const a = reader();
  await topics.join(a);
  topics.onNotification(eventAt(7));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(a.got.map((e) => e.seq), [5, 6, 7]);
  assert.equal(store.reads, 1);
});

test('the delivered position with another id (a restored database) resets the topic\'s streams', async () => {
  const topics = fanout(storeOf([], 4));
  const a = reader();
  await topics.join(a);
  topics.onNotification(eventAt(5, 'first'));
  topics.onNotification(eventAt(5, 'other'));
  assert.equal(a.closedFor, 'reset');
  assert.equal(topics.size, 0, 'the topic is read afresh by the next stream');
});

test('a topic no stream follows any more is forgotten', async () => {
  const topics = fanout(storeOf([], 0));
  const a = reader();
  await topics.join(a);
  assert.equal(topics.size, 1);
  topics.leave(a);
  assert.equal(topics.size, 0);
  topics.onNotification(eventAt(1));
  assert.equal(a.got.length, 0);
});
