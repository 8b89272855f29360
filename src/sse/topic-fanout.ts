import type { Logger } from 'pino';
import { setImmediate } from 'node:timers/promises';
import type { Metrics } from '../metrics.js';
import type { NotificationStore, TopicEvent } from '../store/store.js';
import type { Clock } from '../domain/clock.js';
import { hash32 } from './cursor.js';
import { encodeTopicEvent, retryHintMs, STORE_PAGE, type EncodedEvent, type StreamSession } from './session.js';

export interface TopicFanoutDeps {
  store: NotificationStore;
  /** True when no hint is ever lost (Bus.lossless): positions passed on a hint need no second look. */
  lossless: boolean;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** This node's view of one topic: who follows it and the last sequence fanned out. */
interface TopicChannel {
  sessions: Set<StreamSession>;
  delivered: number;
  /** hash32 of the id at `delivered`, null when not known (then a rewind shows in the head). */
  deliveredIdHash: number | null;
  /** Resolves once `delivered` holds the topic's head from the store. */
  ready: Promise<void>;
  fetching: boolean;
  fetchAgain: boolean;
  /**
   * Positions (seq, id hash) passed by a hinted event without reading them again, newest
   * last: a restore that took one and whose hint was lost shows only in its id there.
   */
  unverified: Array<readonly [number, number]>;
}

/** Passed positions kept per topic until the next resync checks their ids. */
const UNVERIFIED_KEPT = 16;
/** Positions checked per query (one `idsAt` call), yielding to the event loop between. */
const VERIFY_PAGE = 200;

/**
 * The topics this node's streams follow, each delivered strictly in sequence. A hint for
 * exactly the next sequence is fanned out at once; anything else makes the node read the
 * topic's events after what it delivered from the store (one reader per topic). A topic
 * whose position went back (a restored database) resets its streams.
 */
export class TopicFanout {
  readonly #store: NotificationStore;
  readonly #lossless: boolean;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #clock: Clock;
  readonly #topics = new Map<string, TopicChannel>();

  constructor(deps: TopicFanoutDeps) {
    this.#store = deps.store;
    this.#lossless = deps.lossless;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#clock = deps.clock;
  }

  /** Topics followed by a stream here (or still being read). */
  get size(): number {
    return this.#topics.size;
  }

  /** Follows the session's topics for live events; resolves once each topic's head is known. */
  async join(session: StreamSession): Promise<void> {
    await Promise.all(session.audience.topics.map((topic) => this.#join(topic, session)));
  }

  async #join(topic: string, session: StreamSession): Promise<void> {
    let channel = this.#topics.get(topic);
    if (!channel) {
      const created: TopicChannel = {
        sessions: new Set(), delivered: 0, deliveredIdHash: null, ready: Promise.resolve(), fetching: false, fetchAgain: false, unverified: [],
      };
      created.ready = this.#store.heads([topic]).then((heads) => {
        created.delivered = Math.max(created.delivered, heads.get(topic) ?? 0);
      }, (err: unknown) => {
        // Forget the channel, so the next stream joining this topic reads the head again.
        if (this.#topics.get(topic) === created) this.#topics.delete(topic);
        throw err;
      });
      this.#topics.set(topic, (channel = created));
    }
    channel.sessions.add(session);
    await channel.ready;
  }

  leave(session: StreamSession): void {
    for (const topic of session.audience.topics) {
      const channel = this.#topics.get(topic);
      channel?.sessions.delete(session);
      if (channel && channel.sessions.size === 0 && !channel.fetching) this.#topics.delete(topic);
    }
  }

  /** A bus hint: topic T has event N. */
  onNotification(event: TopicEvent): void {
    const channel = this.#topics.get(event.topic);
    if (!channel || event.seq < channel.delivered) return;
    if (event.seq === channel.delivered) {
      // The same position with another id: the database was rewound (restored).
      if (channel.deliveredIdHash !== null && hash32(event.notification.id) !== channel.deliveredIdHash) this.#rewound(event.topic, channel);
      return;
    }
    if (event.seq === channel.delivered + 1 && !channel.fetching) {
      // Trusted that the position before is still what this node delivered there; the next
      // resync checks (a restored database may have given it to an event whose hint was lost).
      if (!this.#lossless && channel.deliveredIdHash !== null && channel.delivered > 0) {
        if (channel.unverified.push([channel.delivered, channel.deliveredIdHash]) > UNVERIFIED_KEPT) channel.unverified.shift();
      }
      this.#fanOut(channel, encodeAsOf(event, this.#clock.now()));
    } else {
      void this.#fetch(event.topic);
    }
  }

  #fanOut(channel: TopicChannel, event: EncodedEvent): void {
    channel.delivered = event.seq;
    channel.deliveredIdHash = event.idHash;
    for (const session of channel.sessions) session.offer(event);
    this.#metrics.delivered.inc(channel.sessions.size);
    this.#metrics.deliveryLatency.observe(Math.max(0, this.#clock.now() - event.acceptedAt) / 1000);
  }

  /** Reads a topic's events after what this node delivered, in order; one reader per topic. */
  async #fetch(topic: string): Promise<void> {
    const channel = this.#topics.get(topic);
    if (!channel) return;
    if (channel.fetching) {
      channel.fetchAgain = true;
      return;
    }
    channel.fetching = true;
    try {
      await channel.ready;
      do {
        channel.fetchAgain = false;
        for (;;) {
          // From the last delivered event itself when its id is known: a different id there
          // means the database was rewound and this node's position is meaningless.
          const checkLast = channel.deliveredIdHash !== null && channel.delivered > 0;
          const events = await this.#store.eventsAfter(topic, channel.delivered - (checkLast ? 1 : 0), STORE_PAGE);
          if (checkLast && events[0]?.seq === channel.delivered && hash32(events[0].notification.id) !== channel.deliveredIdHash) {
            this.#rewound(topic, channel);
            return;
          }
          const now = this.#clock.now();
          for (const event of events) {
            if (event.seq === channel.delivered + 1) this.#fanOut(channel, encodeAsOf(event, now));
          }
          if (events.length < STORE_PAGE) break;
        }
      } while (channel.fetchAgain);
    } catch (err) {
      // The store is unreachable; the next sweep's resync retries.
      this.#log.warn({ err, topic }, 'could not read topic events; will retry');
    } finally {
      channel.fetching = false;
      if (channel.sessions.size === 0 && this.#topics.get(topic) === channel) this.#topics.delete(topic);
    }
  }

  /**
   * The topic's head went back (a restored backup): positions on this node mean nothing
   * now. Its streams close with a retry hint; on reconnect their cursors get `reset`.
   */
  #rewound(topic: string, channel: TopicChannel): void {
    this.#log.warn({ topic, delivered: channel.delivered }, 'topic head went back (database restored?); resetting its streams');
    if (this.#topics.get(topic) === channel) this.#topics.delete(topic);
    for (const session of [...channel.sessions]) session.close('reset', { retryMs: retryHintMs(1000) });
  }

  /**
   * Re-reads every followed topic's head and fetches what this node has not delivered;
   * checks the ids at positions passed on a hint alone since the last resync.
   */
  resync(): void {
    const topics = [...this.#topics.keys()];
    if (topics.length === 0) return;
    this.#store.heads(topics).then((heads) => {
      for (const [topic, head] of heads) {
        const channel = this.#topics.get(topic);
        if (!channel) continue;
        if (head < channel.delivered) this.#rewound(topic, channel);
        else if (head > channel.delivered) void this.#fetch(topic);
      }
    }, (err: unknown) => this.#log.warn({ err }, 'could not re-read topic heads; will retry'));
    void this.#verifyPassed().catch((err: unknown) => this.#log.warn({ err }, 'could not check delivered positions; will retry'));
  }

  /** Passed positions whose id is not the one delivered there: the database was rewound. */
  async #verifyPassed(): Promise<void> {
    const passed: Array<{ topic: string; channel: TopicChannel; seq: number; idHash: number }> = [];
    for (const [topic, channel] of this.#topics) {
      for (const [seq, idHash] of channel.unverified) passed.push({ topic, channel, seq, idHash });
      channel.unverified = [];
    }
    for (let start = 0; start < passed.length; start += VERIFY_PAGE) {
      const page = passed.slice(start, start + VERIFY_PAGE);
      const ids = await this.#store.idsAt(page.map(({ topic, seq }) => [topic, seq] as const));
      for (const { topic, channel, seq, idHash } of page) {
        const id = ids.get(`${topic}\n${seq}`);
        // Absent: retention deleted it since, which rewinds nothing.
        if (id !== undefined && hash32(id) !== idHash && this.#topics.get(topic) === channel) this.#rewound(topic, channel);
      }
      await setImmediate();
    }
  }
}

/**
 * An event as the hub fans it out at `now`, from a hint or from the gap fill's unfiltered
 * read (one read serves every reader): one whose expiry passed meanwhile (a hint held by the
 * broker, a gap read late) goes to no stream, but still takes its position in every stream's
 * sequence, so none sees a gap there or counts it unread.
 */
function encodeAsOf(event: TopicEvent, now: number): EncodedEvent {
  const encoded = encodeTopicEvent(event);
  const expiresAt = event.notification.expires_at;
  if (expiresAt !== null && Date.parse(expiresAt) <= now) encoded.hidden = true;
  return encoded;
}
