import {
  HeraldError,
  inboxStore,
  type InboxState,
  type InboxStore,
  type InboxStoreOptions,
  type InboxStoreSnapshot,
  type StreamState,
} from '@herald/client';
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { useHeraldContext } from './provider.js';

/** What `useNotifications` returns: the inbox as it is now, and what the user can do to it. */
export interface NotificationsView extends InboxStoreSnapshot {
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

type Actions = Omit<NotificationsView, keyof InboxStoreSnapshot>;

const EMPTY: InboxStoreSnapshot = { items: [], unreadCount: 0, hasMore: false, loaded: false, mutedTypes: undefined, error: undefined };
const emptySnapshot = (): InboxStoreSnapshot => EMPTY;
const nullCount = (): null => null;
const subscribeNothing = (): (() => void) => () => {};

function useStore(hook: string, options: InboxStoreOptions): InboxStore | null {
  const { client } = useHeraldContext(hook);
  const { status, archived, type, pageSize } = options;
  return useMemo(
    () => (client ? inboxStore(client, { status, archived, type, pageSize }) : null),
    [client, status, archived, type, pageSize],
  );
}

/**
 * The user's unread count, live from every tab and device; null until known (and on the
 * server). Only components that call it re-render when it changes, and only when the
 * number itself changes.
 */
export function useUnreadCount(): number | null {
  const store = useStore('useUnreadCount', {});
  // A number is compared by value: a change to the list alone does not re-render the caller.
  const count = (): number | null => {
    const snapshot = store?.getSnapshot();
    return snapshot?.loaded ? snapshot.unreadCount : null;
  };
  return useSyncExternalStore(store?.subscribe ?? subscribeNothing, count, nullCount);
}

/**
 * The stream's state: `connecting`, `open`, `reconnecting` or `closed` (null on the server
 * and before the provider has mounted), e.g. for a "reconnecting…" hint.
 */
export function useConnectionState(): StreamState | null {
  const { client } = useHeraldContext('useConnectionState');
  const subscribe = useCallback((onChange: () => void) => (client ? client.stream.on('state', onChange) : () => {}), [client]);
  return useSyncExternalStore(subscribe, () => client?.stream.state ?? null, nullCount);
}

/**
 * A headless inbox: the items of one view (default: the inbox, newest first, without the
 * archived and snoozed ones), kept current from the stream, and its actions. Components
 * that show the same view share one list request. Empty (`loaded: false`) on the server.
 */
export function useNotifications(options: InboxStoreOptions = {}): NotificationsView {
  const store = useStore('useNotifications', options);
  const snapshot = useSyncExternalStore(store?.subscribe ?? subscribeNothing, store?.getSnapshot ?? emptySnapshot, emptySnapshot);
  const actions = useMemo(() => actionsOf(store), [store]);
  return useMemo(() => ({ ...snapshot, ...actions }), [snapshot, actions]);
}

function actionsOf(store: InboxStore | null): Actions {
  const run = (action: (state: InboxState) => Promise<void>): Promise<void> =>
    store
      ? action(store.state)
      : Promise.reject(new HeraldError('not_connected', 'Herald is not connected yet: inbox actions work once the provider has mounted in the browser'));
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
