import type { HeraldClient } from './index.js';
import { InboxState, type InboxFilter, type InboxSnapshot } from './inbox-state.js';
import { HeraldError, systemClock, type Clock, type HeraldNotification } from './types.js';

/** What a view renders: the inbox state's snapshot plus the last failed page load. */
export interface InboxStoreSnapshot extends InboxSnapshot {
  /** Set when loading a page failed; cleared by the next change. */
  error: HeraldError | undefined;
}

export interface InboxStoreOptions extends InboxFilter {
  /** Items per request, 1..100. Default 50. */
  pageSize?: number;
}

/**
 * An `InboxState` shaped for the stores of UI frameworks (React's `useSyncExternalStore`,
 * Vue's refs): `getSnapshot()` hands out the same object until something changes, so a
 * view that compares it re-renders only on a change; and the state follows the stream only
 * while someone listens. The last listener leaving stops it one timer tick later, so a
 * listener that leaves and comes straight back (React's StrictMode, a keyed re-mount) does
 * not reload the list.
 */
export class InboxStore {
  /** The state itself, for its actions (`markRead`, `archive`, `snooze`, `loadMore`, …). */
  readonly state: InboxState;
  readonly #clock: Clock;
  readonly #listeners = new Set<() => void>();
  #snapshot: InboxStoreSnapshot;
  #started = false;
  #stopTimer: unknown;

  constructor(client: HeraldClient, options: InboxStoreOptions = {}, clock: Clock = systemClock) {
    const { pageSize, ...filter } = options;
    this.#clock = clock;
    this.state = new InboxState({ inbox: client.inbox, stream: client.stream, filter, pageSize, clock });
    this.#snapshot = { ...this.state.snapshot, error: undefined };
    this.state.on('change', (snapshot) => this.#set({ ...snapshot, error: undefined }));
    this.state.on('error', (error) => this.#set({ ...this.#snapshot, error }));
  }

  readonly getSnapshot = (): InboxStoreSnapshot => this.#snapshot;

  /** Calls `listener` after every change; the first listener starts the state. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#stopTimer !== undefined) {
      this.#clock.clearTimeout(this.#stopTimer);
      this.#stopTimer = undefined;
    }
    if (!this.#started) {
      this.#started = true;
      void this.state.start();
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0 || this.#stopTimer !== undefined) return;
      this.#stopTimer = this.#clock.setTimeout(() => {
        this.#stopTimer = undefined;
        this.#started = false;
        this.state.dispose();
      }, 0);
    };
  };

  #set(snapshot: InboxStoreSnapshot): void {
    // A stream event echoing this tab's own action, or a reload that finds what is already
    // shown, changes nothing a view renders: keep the snapshot, re-render nothing.
    if (sameSnapshot(this.#snapshot, snapshot)) return;
    this.#snapshot = snapshot;
    for (const listener of [...this.#listeners]) listener();
  }
}

function sameSnapshot(a: InboxStoreSnapshot, b: InboxStoreSnapshot): boolean {
  return (
    a.unreadCount === b.unreadCount &&
    a.hasMore === b.hasMore &&
    a.loaded === b.loaded &&
    a.error === b.error &&
    (a.mutedTypes === b.mutedTypes || a.mutedTypes?.join('\n') === b.mutedTypes?.join('\n')) &&
    a.items.length === b.items.length &&
    a.items.every((item, i) => sameItem(item, b.items[i]))
  );
}

/** Only these fields of a notification change after it is published; the rest is fixed for its id. */
function sameItem(a: HeraldNotification, b: HeraldNotification | undefined): boolean {
  return (
    b !== undefined &&
    a.id === b.id &&
    a.status === b.status &&
    a.seen_at === b.seen_at &&
    a.read_at === b.read_at &&
    a.archived_at === b.archived_at &&
    (a.snoozed_until ?? null) === (b.snoozed_until ?? null) &&
    (a.expires_at ?? null) === (b.expires_at ?? null)
  );
}

const storesByClient = new WeakMap<HeraldClient, Map<string, InboxStore>>();

/**
 * The one store of `client` for these options, made on first use: every view of the same
 * part of the inbox shares one state and so one list request, and an unread badge shares
 * the default view's.
 */
export function inboxStore(client: HeraldClient, options: InboxStoreOptions = {}): InboxStore {
  let stores = storesByClient.get(client);
  if (!stores) {
    stores = new Map();
    storesByClient.set(client, stores);
  }
  const key = JSON.stringify([options.status ?? 'all', options.archived ?? false, options.type ?? null, options.pageSize ?? 50]);
  let store = stores.get(key);
  if (!store) {
    store = new InboxStore(client, options);
    stores.set(key, store);
  }
  return store;
}

/** What a user can do to one view of the inbox: the actions the framework packages hand out. */
export interface InboxActions {
  markRead(id: string): Promise<void>;
  markUnread(id: string): Promise<void>;
  archive(id: string): Promise<void>;
  unarchive(id: string): Promise<void>;
  /** Hides it until `until`; `null` wakes it now. */
  snooze(id: string, until: Date | null): Promise<void>;
  readAll(): Promise<void>;
  /** Appends the next page (`hasMore` says whether there is one). */
  loadMore(): Promise<void>;
  /** Fetches the first page again. */
  reload(): Promise<void>;
}

/**
 * The actions of whichever store `current` returns when one is called. Before there is one
 * (on the server, before a component has mounted) each is refused with `not_connected` and
 * `notConnected` as its message, which says what the caller is waiting for.
 */
export function inboxActions(current: () => InboxStore | null, notConnected: string): InboxActions {
  const run = (action: (state: InboxState) => Promise<void>): Promise<void> => {
    const store = current();
    return store ? action(store.state) : Promise.reject(new HeraldError('not_connected', notConnected));
  };
  return {
    markRead: (id) => run((state) => state.markRead(id)),
    markUnread: (id) => run((state) => state.markUnread(id)),
    archive: (id) => run((state) => state.archive(id)),
    unarchive: (id) => run((state) => state.unarchive(id)),
    snooze: (id, until) => run((state) => state.snooze(id, until)),
    readAll: () => run((state) => state.readAll()),
    loadMore: () => run((state) => state.loadMore()),
    reload: () => run((state) => state.reload()),
  };
}
