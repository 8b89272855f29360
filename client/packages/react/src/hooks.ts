import {
  inboxActions,
  inboxStore,
  type InboxActions,
  type InboxStore,
  type InboxStoreOptions,
  type InboxStoreSnapshot,
  type StreamState,
} from '@herald/client';
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { useHeraldContext } from './provider.js';

/** What `useNotifications` returns: the inbox as it is now, and what the user can do to it. */
export interface NotificationsView extends InboxStoreSnapshot, InboxActions {}

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

function actionsOf(store: InboxStore | null): InboxActions {
  return inboxActions(() => store, 'Herald is not connected yet: inbox actions work once the provider has mounted in the browser');
}
