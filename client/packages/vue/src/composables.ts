import {
  inboxActions,
  inboxStore,
  type HeraldClient,
  type HeraldError,
  type HeraldNotification,
  type InboxActions,
  type InboxStore,
  type InboxStoreOptions,
  type InboxStoreSnapshot,
  type StreamState,
} from '@herald/client';
import { shallowRef, type ShallowRef } from 'vue';
import { whileMounted } from './plugin.js';

/** What `useNotifications` returns: one ref per part of the view, and the actions. */
export interface NotificationsView extends InboxActions {
  /** Newest first; empty until loaded (and on the server). */
  items: Readonly<ShallowRef<readonly HeraldNotification[]>>;
  unreadCount: Readonly<ShallowRef<number | null>>;
  hasMore: Readonly<ShallowRef<boolean>>;
  /** The first page has arrived: until then an empty list means "loading". */
  loaded: Readonly<ShallowRef<boolean>>;
  /** The last failed page load; cleared by the next change. */
  error: Readonly<ShallowRef<HeraldError | undefined>>;
}

/**
 * The app's client (`stream` and `inbox`), for anything the composables do not cover; null
 * on the server and until the component has mounted.
 */
export function useHeraldClient(): Readonly<ShallowRef<HeraldClient | null>> {
  const client = shallowRef<HeraldClient | null>(null);
  whileMounted('useHeraldClient', (value) => {
    client.value = value;
    return () => {
      client.value = null;
    };
  });
  return client;
}

/**
 * The stream's state: `connecting`, `open`, `reconnecting` or `closed` (null on the server
 * and until the component has mounted), e.g. for a "reconnecting…" hint.
 */
export function useConnectionState(): Readonly<ShallowRef<StreamState | null>> {
  const state = shallowRef<StreamState | null>(null);
  whileMounted('useConnectionState', (client) => {
    state.value = client.stream.state;
    const off = client.stream.on('state', ({ newState }) => {
      state.value = newState;
    });
    return () => {
      off();
      state.value = null;
    };
  });
  return state;
}

/** Follows the client's store for `options` while the component is mounted. */
function followStore(composable: string, options: InboxStoreOptions, update: (snapshot: InboxStoreSnapshot) => void): () => InboxStore | null {
  let current: InboxStore | null = null;
  whileMounted(composable, (client) => {
    const store = inboxStore(client, options);
    current = store;
    const off = store.subscribe(() => update(store.getSnapshot()));
    update(store.getSnapshot());
    return () => {
      off();
      current = null;
    };
  });
  return () => current;
}

/**
 * The user's unread count, live from every tab and device; null until known (and on the
 * server). A ref written only when the number changes, so only what reads it re-renders.
 */
export function useUnreadCount(): Readonly<ShallowRef<number | null>> {
  const count = shallowRef<number | null>(null);
  followStore('useUnreadCount', {}, (snapshot) => {
    count.value = snapshot.loaded ? snapshot.unreadCount : null;
  });
  return count;
}

/**
 * A headless inbox: the items of one view (default: the inbox, newest first, without the
 * archived and snoozed ones), kept current from the stream, and its actions. Components
 * that show the same view share one list request. `options` are read once, at setup.
 */
export function useNotifications(options: InboxStoreOptions = {}): NotificationsView {
  const items = shallowRef<readonly HeraldNotification[]>([]);
  const unreadCount = shallowRef<number | null>(null);
  const hasMore = shallowRef(false);
  const loaded = shallowRef(false);
  const error = shallowRef<HeraldError | undefined>(undefined);
  // Each ref triggers only when its own value changes: a view reading the count alone is not re-rendered by list changes.
  const store = followStore('useNotifications', { ...options }, (snapshot) => {
    items.value = snapshot.items;
    unreadCount.value = snapshot.loaded ? snapshot.unreadCount : null;
    hasMore.value = snapshot.hasMore;
    loaded.value = snapshot.loaded;
    error.value = snapshot.error;
  });
  return {
    items,
    unreadCount,
    hasMore,
    loaded,
    error,
    ...inboxActions(store, 'Herald is not connected yet: inbox actions work once the component has mounted in the browser'),
  };
}
