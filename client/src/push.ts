import { ApiRequester, type ApiOptions } from './api.js';
import { HeraldError } from './types.js';

/**
 * Where Web Push stands for this browser and user:
 * - `unsupported`: the browser has no service workers, Push API or notifications;
 * - `disabled`: the Herald server has push turned off (no VAPID keys);
 * - `denied`: the user blocked notifications for this site;
 * - `subscribed`: this browser gets pushes for this user;
 * - `unsubscribed`: it could, after `subscribe()`.
 */
export type PushStatus = 'unsupported' | 'disabled' | 'denied' | 'subscribed' | 'unsubscribed';

export interface PushOptions extends ApiOptions {
  /**
   * The service worker script, on the page's own origin (browsers register no other).
   * Default: Herald's `herald-sw.js`, right when the page is served by Herald itself; a
   * page on another origin serves a worker of its own that loads Herald's with
   * `self.HERALD_SERVER = '<Herald URL>'; importScripts('<Herald URL>/herald-sw.js')`.
   */
  serviceWorker?: string | URL;
  /** The worker's scope (default: the folder of its script). */
  scope?: string;
}

/** A subscription as Herald stored it. */
export interface StoredPushSubscription {
  id: string;
  endpoint: string;
  created_at: string;
}

/** The browser APIs push needs; absent in Node and in old browsers. */
function browserSupport(): { container: ServiceWorkerContainer } | null {
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  if (!nav?.serviceWorker || !('PushManager' in globalThis) || !('Notification' in globalThis)) return null;
  return { container: nav.serviceWorker };
}

/** A base64url VAPID key as the Push API takes it. */
function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function sameKey(a: ArrayBuffer | null | undefined, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.byteLength) return false;
  const view = new Uint8Array(a);
  return view.every((byte, i) => byte === b[i]);
}

/**
 * Web Push for the signed-in user (`client.push`): notifications reach them when no tab of
 * yours is open. Herald pushes only what the user has not seen (see the README).
 */
export class HeraldPush {
  readonly #api: ApiRequester;
  readonly #serviceWorker: string;
  readonly #scope: string | undefined;

  constructor(options: PushOptions) {
    this.#api = new ApiRequester(options);
    this.#serviceWorker = new URL(options.serviceWorker ?? 'herald-sw.js', this.#api.base).toString();
    this.#scope = options.scope;
  }

  async status(): Promise<PushStatus> {
    const support = browserSupport();
    if (!support) return 'unsupported';
    if ((await this.#publicKey()) === null) return 'disabled';
    if (Notification.permission === 'denied') return 'denied';
    const registration = await support.container.getRegistration(this.#scope ?? this.#serviceWorker);
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription || Notification.permission !== 'granted') return 'unsubscribed';
    const stored = await this.#api.request<{ items: StoredPushSubscription[] }>('GET', 'v1/push/subscriptions');
    return stored.items.some((item) => item.endpoint === subscription.endpoint) ? 'subscribed' : 'unsubscribed';
  }

  /**
   * Asks the user's permission (call it from a click: browsers ask only then), registers the
   * service worker, subscribes with Herald's VAPID key and stores the subscription for the
   * user. Rejects with `HeraldError` code `push_unsupported`, `push_disabled` or
   * `permission_denied`, or the server's code (e.g. `push_endpoint_not_allowed`).
   */
  async subscribe(): Promise<StoredPushSubscription> {
    const support = browserSupport();
    if (!support) throw new HeraldError('push_unsupported', 'This browser cannot receive Web Push (no service worker, Push API or notifications).');
    const publicKey = await this.#publicKey();
    if (publicKey === null) throw new HeraldError('push_disabled', 'Web Push is turned off on this Herald server.', 404);
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') throw new HeraldError('permission_denied', 'The user did not allow notifications for this site.');
    const registration = await support.container.register(this.#serviceWorker, this.#scope === undefined ? {} : { scope: this.#scope });
    await activated(registration);
    const key = keyBytes(publicKey);
    let subscription = await registration.pushManager.getSubscription();
    // Made with another server key (Herald's keys changed): push services would refuse ours.
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    return this.#api.request<StoredPushSubscription>('POST', 'v1/push/subscriptions', subscription.toJSON());
  }

  /** Stops pushes to this browser for the user: deletes the subscription at Herald and in the browser. False when there was none. */
  async unsubscribe(): Promise<boolean> {
    const support = browserSupport();
    if (!support) return false;
    const registration = await support.container.getRegistration(this.#scope ?? this.#serviceWorker);
    const subscription = await registration?.pushManager.getSubscription();
    if (!subscription) return false;
    const stored = await this.#api.request<{ items: StoredPushSubscription[] }>('GET', 'v1/push/subscriptions');
    for (const item of stored.items.filter((i) => i.endpoint === subscription.endpoint)) {
      await this.#api.request<undefined>('DELETE', `v1/push/subscriptions/${encodeURIComponent(item.id)}`);
    }
    await subscription.unsubscribe();
    return true;
  }

  /** Herald's VAPID public key, or null when push is off there (404). */
  async #publicKey(): Promise<string | null> {
    try {
      return (await this.#api.request<{ public_key: string }>('GET', 'v1/push/vapid-public-key')).public_key;
    } catch (err) {
      if (err instanceof HeraldError && err.status === 404) return null;
      throw err;
    }
  }
}

/** Resolves once the registration has an active worker (a new one installs first). */
function activated(registration: ServiceWorkerRegistration): Promise<void> {
  if (registration.active) return Promise.resolve();
  const worker = registration.installing ?? registration.waiting;
  return new Promise((resolve, reject) => {
    if (!worker) {
      reject(new HeraldError('push_unsupported', 'The service worker did not install.', 0));
      return;
    }
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve();
      if (worker.state === 'redundant') reject(new HeraldError('push_unsupported', 'The service worker failed to install.', 0));
    });
  });
}
