import { Emitter } from './emitter.js';
import type { HeraldInbox, InboxChange } from './inbox.js';
import {
  HeraldError,
  systemClock,
  type Clock,
  type HeraldNotification,
  type InboxStatus,
  type NotificationStream,
  type NotificationUpdatedEvent,
  type Preferences,
} from './types.js';

/** Which part of the inbox a state follows; the same filters `HeraldInbox.list` takes. */
export interface InboxFilter {
  /** Default `all`. */
  status?: InboxStatus;
  /** The archived items instead of the inbox. Default false. */
  archived?: boolean;
  type?: string;
}

export interface InboxStateOptions {
  inbox: HeraldInbox;
  /** The user's stream (direct or shared between tabs); the state listens, the app starts it. */
  stream: NotificationStream;
  filter?: InboxFilter;
  /** Items per request, 1..100. Default 50. */
  pageSize?: number;
  /** Timers for local expiry. Default the global timers. */
  clock?: Clock;
}

/** What an application renders. */
export interface InboxSnapshot {
  /** Newest first; only what the filter shows right now. */
  items: readonly HeraldNotification[];
  unreadCount: number;
  /** Another page waits behind `loadMore()`. */
  hasMore: boolean;
  /** The first page has arrived (until then an empty list means "loading", not "empty"). */
  loaded: boolean;
  /** The user's muted types once known (from `loadPreferences()` or a `preferences.updated`). */
  mutedTypes: readonly string[] | undefined;
}

export interface InboxStateEventMap {
  change: InboxSnapshot;
  /** A notification that arrived live and is shown (for a highlight or a sound). */
  arrived: HeraldNotification;
  /**
   * Loading a page failed (the list stays as it was). Actions (`markRead`, `snooze`, …)
   * reject instead, so the caller can say which one failed.
   */
  error: HeraldError;
}

const MAX_TIMER_MS = 2_147_483_647;

/**
 * The inbox as the user should see it, kept current from the stream: new items appear,
 * read/archive/snooze changes from any tab apply, expired items leave, snoozed ones hide
 * and come back when they wake, topic items of a muted type disappear, and the unread
 * count follows every event. Each tab keeps its own state over the one shared stream, so
 * every tab shows the same. The server stays the source of truth: whenever the stream
 * (re)opens, resets, wakes snoozes or changes preferences, the first pages are fetched again.
 */
export class InboxState {
  readonly #emitter = new Emitter<InboxStateEventMap>();
  readonly #inbox: HeraldInbox;
  readonly #stream: NotificationStream;
  readonly #pageSize: number;
  readonly #clock: Clock;
  readonly #unsubscribe: Array<() => void> = [];
  #filter: InboxFilter;
  #items = new Map<string, HeraldNotification>();
  #unread = 0;
  #nextCursor: string | null = null;
  #loaded = false;
  #muted: string[] | undefined;
  /** Bumped by every reload: an answer for an older one is dropped. */
  #generation = 0;
  /** Live arrivals while a reload is in flight; its answer may predate them. */
  #arrivedDuringLoad: HeraldNotification[] | undefined;
  /**
   * Bumped by every stream event that carries the count. A page answered after such an event
   * may have been read before it: the event's count is then the newer one, and every later
   * change brings its own event, so the stream's count is never left behind.
   */
  #streamCounts = 0;
  #timer: unknown;

  constructor(options: InboxStateOptions) {
    this.#inbox = options.inbox;
    this.#stream = options.stream;
    this.#filter = { ...options.filter };
    this.#pageSize = Math.min(100, Math.max(1, options.pageSize ?? 50));
    this.#clock = options.clock ?? systemClock;
  }

  on<K extends keyof InboxStateEventMap>(name: K, listener: (event: InboxStateEventMap[K]) => void): () => void {
    return this.#emitter.on(name, listener);
  }

  get snapshot(): InboxSnapshot {
    return {
      items: [...this.#items.values()],
      unreadCount: this.#unread,
      hasMore: this.#nextCursor !== null,
      loaded: this.#loaded,
      mutedTypes: this.#muted,
    };
  }

  get filter(): InboxFilter {
    return { ...this.#filter };
  }

  /** Follows the stream and loads the first page; again after `start`, only reloads. */
  start(): Promise<void> {
    if (this.#unsubscribe.length > 0) return this.reload();
    const s = this.#stream;
    this.#unsubscribe.push(
      s.on('ready', (ready) => {
        this.#setStreamCount(ready.unread_count);
        this.#changed();
        // Read, archive and snooze changes are not replayed on resume: fetch what is true now.
        void this.reload();
      }),
      s.on('reset', () => void this.reload()),
      s.on('notification', ({ unread_count, ...notification }) => {
        this.#setStreamCount(unread_count);
        this.#arrivedDuringLoad?.push(notification);
        const shown = this.#put(notification);
        this.#changed();
        if (shown) this.#emitter.emit('arrived', notification);
      }),
      s.on('notification.updated', (update) => {
        this.#streamCounts += 1;
        this.#applyUpdate(update);
      }),
      s.on('notification.expired', ({ ids, unread_count, more }) => {
        for (const id of ids) this.#items.delete(id);
        this.#setStreamCount(unread_count);
        this.#changed();
        // Only the first ids were named: what is still listed is what the server lists now.
        if (more) void this.reload();
      }),
      s.on('preferences.updated', ({ muted_types, unread_count }) => {
        this.#muted = [...muted_types];
        this.#setStreamCount(unread_count);
        this.#refilter();
        this.#changed();
        // Unmuting brings topic items back that this state never had.
        void this.reload();
      }),
    );
    return this.reload();
  }

  /** Stops following the stream (the stream itself stays as it is). */
  dispose(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#generation += 1;
    this.#clearTimer();
  }

  /** Shows another part of the inbox: the list starts again from its first page. */
  setFilter(filter: InboxFilter): Promise<void> {
    this.#filter = { ...filter };
    this.#items = new Map();
    this.#nextCursor = null;
    this.#loaded = false;
    this.#changed();
    return this.reload();
  }

  /** Fetches the first page again (as many items as are shown, up to 100) and replaces the list. */
  async reload(): Promise<void> {
    const generation = ++this.#generation;
    const arrived: HeraldNotification[] = [];
    this.#arrivedDuringLoad = arrived;
    const limit = Math.min(100, Math.max(this.#pageSize, this.#items.size));
    const counts = this.#streamCounts;
    try {
      const page = await this.#inbox.list({ ...this.#filter, limit });
      if (generation !== this.#generation) return;
      this.#items = new Map();
      for (const item of [...page.items, ...arrived]) this.#put(item);
      this.#nextCursor = page.next_cursor;
      if (counts === this.#streamCounts) this.#unread = page.unread_count;
      this.#loaded = true;
      this.#changed();
    } catch (err) {
      if (generation === this.#generation) this.#fail(err);
    } finally {
      if (this.#arrivedDuringLoad === arrived) this.#arrivedDuringLoad = undefined;
    }
  }

  /** Appends the next page; a no-op when there is none. */
  async loadMore(): Promise<void> {
    const cursor = this.#nextCursor;
    if (cursor === null) return;
    const generation = this.#generation;
    const counts = this.#streamCounts;
    try {
      const page = await this.#inbox.list({ ...this.#filter, limit: this.#pageSize, cursor });
      if (generation !== this.#generation || cursor !== this.#nextCursor) return;
      for (const item of page.items) if (!this.#items.has(item.id)) this.#put(item);
      this.#nextCursor = page.next_cursor;
      if (counts === this.#streamCounts) this.#unread = page.unread_count;
      this.#changed();
    } catch (err) {
      if (generation === this.#generation) this.#fail(err);
    }
  }

  markRead(id: string): Promise<void> {
    return this.#change(() => this.#inbox.markRead(id));
  }

  markUnread(id: string): Promise<void> {
    return this.#change(() => this.#inbox.markUnread(id));
  }

  archive(id: string): Promise<void> {
    return this.#change(() => this.#inbox.archive(id));
  }

  unarchive(id: string): Promise<void> {
    return this.#change(() => this.#inbox.unarchive(id));
  }

  /** Snoozes until `until`, or wakes it now with `null`. */
  snooze(id: string, until: Date | null): Promise<void> {
    return this.#change(() => this.#inbox.snooze(id, until));
  }

  async readAll(): Promise<void> {
    const { unread_count } = await this.#inbox.readAll();
    this.#applyUpdate({ ids: [], status: 'read', archived: null, seen: true, all: true, unread_count, notification: null });
  }

  /** Fetches the user's muted types into the snapshot. */
  async loadPreferences(): Promise<Preferences> {
    const preferences = await this.#inbox.getPreferences();
    this.#muted = [...preferences.muted_types];
    this.#changed();
    return preferences;
  }

  /** Replaces the muted types; the list follows once the server's `preferences.updated` arrives. */
  async setPreferences(preferences: Preferences): Promise<Preferences> {
    const stored = await this.#inbox.setPreferences(preferences);
    this.#muted = [...stored.muted_types];
    this.#refilter();
    this.#changed();
    return stored;
  }

  #setStreamCount(count: number): void {
    this.#streamCounts += 1;
    this.#unread = count;
  }

  /** Runs one PATCH and applies its answer at once; the stream's echo of it changes nothing more. */
  async #change(call: () => Promise<InboxChange>): Promise<void> {
    const { notification, unread_count } = await call();
    this.#unread = unread_count;
    this.#put(notification);
    this.#changed();
  }

  #applyUpdate(update: NotificationUpdatedEvent): void {
    this.#unread = update.unread_count;
    if (update.notification) {
      this.#put(update.notification);
      this.#changed();
      return;
    }
    const now = new Date(this.#clock.now()).toISOString();
    for (const id of update.all ? [...this.#items.keys()] : update.ids) {
      const item = this.#items.get(id);
      if (!item) continue;
      const status = update.status ?? item.status;
      const next: HeraldNotification = {
        ...item,
        status,
        read_at: status === 'read' ? (item.read_at ?? now) : null,
        seen_at: update.seen || status === 'read' ? (item.seen_at ?? now) : item.seen_at,
      };
      if (update.archived !== null) next.archived_at = update.archived ? (item.archived_at ?? now) : null;
      if (update.snoozed_until !== undefined) next.snoozed_until = update.snoozed_until;
      this.#put(next);
    }
    this.#changed();
    // Woken items come back into views that did not hold them while they slept.
    if (update.snoozed_until === null && this.#filter.status !== 'snoozed') void this.reload();
  }

  /** Stores the item if the filter shows it now, else drops it; true when it is shown. */
  #put(item: HeraldNotification): boolean {
    if (!this.#shows(item)) {
      this.#items.delete(item.id);
      return false;
    }
    const { unread_count: _, ...clean } = item as HeraldNotification & { unread_count?: number };
    this.#items.set(item.id, clean);
    return true;
  }

  #shows(item: HeraldNotification): boolean {
    const now = this.#clock.now();
    const filter = this.#filter;
    if (item.expires_at && Date.parse(item.expires_at) <= now) return false;
    if (Boolean(item.archived_at) !== (filter.archived ?? false)) return false;
    if (filter.type && item.type !== filter.type) return false;
    if (item.topic !== null && this.#muted?.some((pattern) => mutes(pattern, item.type))) return false;
    const snoozed = item.snoozed_until != null && Date.parse(item.snoozed_until) > now;
    const status = filter.status ?? 'all';
    if (status === 'snoozed') return snoozed;
    if (snoozed) return false;
    return status === 'all' || item.status === status;
  }

  #refilter(): void {
    for (const item of [...this.#items.values()]) this.#put(item);
  }

  #changed(): void {
    this.#items = new Map([...this.#items.entries()].sort(([, a], [, b]) => newestFirst(a, b)));
    this.#armTimer();
    this.#emitter.emit('change', this.snapshot);
  }

  /**
   * One timer for the next local deadline (an item expiring, or a snoozed item waking in the
   * snoozed view), so the list is right even while the stream is down; the server's events
   * bring the count.
   */
  #armTimer(): void {
    this.#clearTimer();
    const now = this.#clock.now();
    let next = Infinity;
    for (const item of this.#items.values()) {
      if (item.expires_at) next = Math.min(next, Date.parse(item.expires_at));
      if (item.snoozed_until && this.#filter.status === 'snoozed') next = Math.min(next, Date.parse(item.snoozed_until));
    }
    if (!Number.isFinite(next)) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      const before = this.#items.size;
      this.#refilter();
      if (this.#items.size !== before) this.#changed();
      else this.#armTimer();
    }, Math.min(MAX_TIMER_MS, Math.max(0, next - now)));
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fail(err: unknown): void {
    this.#emitter.emit('error', err instanceof HeraldError ? err : new HeraldError('network_error', String(err)));
  }
}

/** A mute entry is a type, or a prefix ending in `.*` that matches every type under it. */
export function mutes(pattern: string, type: string): boolean {
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type;
}

function newestFirst(a: HeraldNotification, b: HeraldNotification): number {
  if (a.created_at !== b.created_at) return a.created_at > b.created_at ? -1 : 1;
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}
