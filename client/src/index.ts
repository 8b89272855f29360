import { HeraldInbox } from './inbox.js';
import { HeraldPush } from './push.js';
import { HeraldStream, type HeraldStreamOptions } from './stream.js';
import { canShareAcrossTabs, SharedHeraldStream } from './tabs.js';
import type { NotificationStream } from './types.js';

export { Backoff, parseRetryAfter, type BackoffOptions } from './backoff.js';
export { HeraldInbox, type InboxChange, type InboxOptions, type InboxPage, type ListQuery } from './inbox.js';
export {
  InboxState,
  mutes,
  type InboxFilter,
  type InboxSnapshot,
  type InboxStateEventMap,
  type InboxStateOptions,
} from './inbox-state.js';
export { InboxStore, inboxActions, inboxStore, type InboxActions, type InboxStoreOptions, type InboxStoreSnapshot } from './inbox-store.js';
export { HeraldPush, type PushOptions, type PushStatus, type StoredPushSubscription } from './push.js';
export { HeraldStream, type HeraldStreamOptions } from './stream.js';
export { canShareAcrossTabs, SharedHeraldStream, type SharedStreamOptions } from './tabs.js';
export { cacheTokens, type TokenSource } from './token-cache.js';
export * from './types.js';

export interface HeraldClientOptions extends HeraldStreamOptions {
  /**
   * Share one stream between the tabs of this origin (Web Locks + BroadcastChannel).
   * Set it to the user id to enable sharing; ignored where the browser APIs are missing
   * (Node), which then get a direct stream.
   */
  shareKey?: string;
  /** Web Push's service worker script and scope (see PushOptions); default Herald's `herald-sw.js`. */
  serviceWorker?: string | URL;
  serviceWorkerScope?: string;
}

export interface HeraldClient {
  stream: NotificationStream;
  inbox: HeraldInbox;
  /** Web Push: `subscribe()`, `unsubscribe()`, `status()`. */
  push: HeraldPush;
}

/** A stream (shared across tabs when possible) and the inbox API, using one token provider. */
export function createHeraldClient(options: HeraldClientOptions): HeraldClient {
  const { shareKey, serviceWorker, serviceWorkerScope, ...streamOptions } = options;
  const stream =
    shareKey !== undefined && canShareAcrossTabs()
      ? new SharedHeraldStream({ ...streamOptions, key: shareKey })
      : new HeraldStream(streamOptions);
  const api = { url: options.url, getToken: options.getToken, fetch: options.fetch };
  const inbox = new HeraldInbox(api);
  const push = new HeraldPush({
    ...api, ...(serviceWorker === undefined ? {} : { serviceWorker }), ...(serviceWorkerScope === undefined ? {} : { scope: serviceWorkerScope }),
  });
  return { stream, inbox, push };
}
