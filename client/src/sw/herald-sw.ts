// Herald's service worker (GET /herald-sw.js): shows a push as a notification, sets the app
// badge to the unread count, and on a click marks the notification read (with the push's
// one-notification `read_token`, never the user's token) and focuses an open page or opens
// the push's `navigate` URL.
//
// Pushes are Declarative Web Push messages (`{"web_push": 8030, "notification": {…}}`):
// browsers that show those themselves never wake this worker; the others run it with the
// same fields. A page on another origin than Herald's loads it from a worker of its own:
//   self.HERALD_SERVER = 'https://herald.example.com';
//   importScripts('https://herald.example.com/herald-sw.js');

// The few worker types used here (the project's DOM types have no worker scope).
interface PushMessageFields {
  title?: unknown;
  body?: unknown;
  navigate?: unknown;
  tag?: unknown;
  app_badge?: unknown;
  lang?: unknown;
  dir?: unknown;
  silent?: unknown;
  data?: { id?: unknown; type?: unknown; read_token?: unknown };
}
interface ShownNotification {
  data: unknown;
  close(): void;
}
interface WorkerWindow {
  url: string;
  focus(): Promise<unknown>;
  navigate?(url: string): Promise<unknown>;
}
interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface PushEvent extends ExtendableEvent {
  data: { json(): unknown } | null;
}
interface NotificationClickEvent extends ExtendableEvent {
  notification: ShownNotification;
}
interface HeraldWorkerScope {
  HERALD_SERVER?: string;
  location: { href: string; origin: string };
  registration: { showNotification(title: string, options: Record<string, unknown>): Promise<void> };
  clients: { matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WorkerWindow[]>; openWindow(url: string): Promise<unknown>; claim(): Promise<void> };
  navigator: { setAppBadge?(count: number): Promise<void>; clearAppBadge?(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: string, listener: (event: never) => void): void;
  fetch: typeof fetch;
  herald?: { showPush(message: unknown): Promise<void>; notificationClick(notification: ShownNotification): Promise<void> };
}

const scope = self as unknown as HeraldWorkerScope;

/** Herald's base URL: what the host worker set, else `?server=` on this script's URL, else the folder this script was served from. */
function server(): string {
  const given = scope.HERALD_SERVER ?? new URL(scope.location.href).searchParams.get('server');
  if (given === null) return new URL('./', scope.location.href).toString();
  return given.endsWith('/') ? given : `${given}/`;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Shows one push; anything that is not a Herald message is ignored. */
async function showPush(message: unknown): Promise<void> {
  const fields = (message as { web_push?: unknown; notification?: PushMessageFields } | null)?.notification;
  const title = text(fields?.title);
  if ((message as { web_push?: unknown }).web_push !== 8030 || !fields || !title) return;
  const badge = fields.app_badge;
  if (typeof badge === 'number' && Number.isInteger(badge) && badge >= 0) {
    // Not every browser badges apps; a missing badge must not lose the notification.
    await (badge === 0 ? scope.navigator.clearAppBadge?.() : scope.navigator.setAppBadge?.(badge))?.catch(() => {});
  }
  await scope.registration.showNotification(title, {
    body: text(fields.body) ?? '',
    tag: text(fields.tag),
    lang: text(fields.lang),
    dir: text(fields.dir),
    silent: fields.silent === true,
    data: { id: text(fields.data?.id), type: text(fields.data?.type), read_token: text(fields.data?.read_token), navigate: text(fields.navigate) },
  });
}

/** Marks the notification read, then brings the user to it: an open page of the same origin, else a new window. */
async function notificationClick(notification: ShownNotification): Promise<void> {
  notification.close();
  const data = (notification.data ?? {}) as { read_token?: string; navigate?: string };
  const base = server();
  const markRead = data.read_token
    ? scope.fetch(new URL('v1/push/read', base).toString(), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ read_token: data.read_token }),
    }).then(() => undefined, () => undefined)
    : Promise.resolve();
  const target = data.navigate ?? base;
  const windows = await scope.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const exact = windows.find((w) => w.url === target);
  const sameOrigin = windows.find((w) => new URL(w.url).origin === new URL(target).origin);
  try {
    if (exact) await exact.focus();
    else if (sameOrigin) await sameOrigin.focus();
    else await scope.clients.openWindow(target);
  } catch {
    // Focusing or opening needs the click's user activation; the read is what must not be lost.
  }
  await markRead;
}

scope.addEventListener('install', () => void scope.skipWaiting());
scope.addEventListener('activate', (event: ExtendableEvent) => event.waitUntil(scope.clients.claim()));
scope.addEventListener('push', (event: PushEvent) => {
  let message: unknown = null;
  try {
    message = event.data?.json() ?? null;
  } catch {
    return;
  }
  event.waitUntil(showPush(message));
});
scope.addEventListener('notificationclick', (event: NotificationClickEvent) => event.waitUntil(notificationClick(event.notification)));

// The handlers, for a host worker that wants to call them itself (and for tests, which cannot click a system notification).
scope.herald = { showPush, notificationClick };
