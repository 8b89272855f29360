// <herald-inbox server="https://herald.example">: a bell with the unread count that opens
// the user's inbox, for any page, whatever its framework. Herald serves it bundled with the
// SDK at GET /herald-inbox.js. The stream, its reconnects and the one-stream-per-browser
// sharing are the SDK's; this file is only the view and the glue.
import { createHeraldClient, type HeraldClient } from '../index.js';
import type {
  HeraldNotification,
  NotificationUpdatedEvent,
  StreamState,
  TokenProvider,
  TokenRequestReason,
} from '../types.js';
import { namesCorsOrigin } from '../network-error.js';
import { parseAllowedOrigins, safeHref } from './safe-href.js';
import { STYLES } from './styles.js';

const PAGE_SIZE = 30;
const ANNOUNCED_LIMIT = 1000;
/** A cached token is replaced this long before its `exp` (at most), so no request carries a dying one. */
const EXPIRY_MARGIN_MS = 30_000;

export interface HeraldNotificationEventDetail {
  notification: HeraldNotification;
}
export interface HeraldClickEventDetail extends HeraldNotificationEventDetail {
  /**
   * The notification's `data.url`, checked: an absolute http(s) URL, within `allowed-origins`
   * when the element has that attribute; undefined otherwise. Navigate to this, never to
   * `data.url` itself (a publisher could set `javascript:…`).
   */
  href: string | undefined;
}
export interface HeraldUnreadChangeEventDetail {
  count: number;
}

/**
 * One client per Herald and user for the whole page, whatever the number of elements: they
 * share its stream (itself shared with the other tabs). The token comes from whichever
 * element still holds the client.
 */
interface SharedClient {
  client: HeraldClient;
  tokenSources: Set<TokenProvider>;
}
const sharedClients = new Map<string, SharedClient>();

/**
 * A write that starts as the page navigates away (a click on an item marks it read while the
 * host follows its link) must still reach Herald: keepalive outlives the page.
 */
const keepaliveFetch: typeof fetch = (input, init) =>
  globalThis.fetch(input, init?.method && init.method !== 'GET' ? { ...init, keepalive: true } : init);

function acquireClient(server: string, user: string, tokenSource: TokenProvider): HeraldClient {
  const key = `${server}\n${user}`;
  let entry = sharedClients.get(key);
  if (!entry) {
    const tokenSources = new Set<TokenProvider>();
    const client = createHeraldClient({
      url: server,
      fetch: keepaliveFetch,
      getToken: (context) => {
        const first = tokenSources.values().next().value;
        return first ? first(context) : undefined;
      },
      // The host page's tabs share one stream per Herald and user.
      shareKey: `herald-inbox ${server} ${user}`,
    });
    entry = { client, tokenSources };
    sharedClients.set(key, entry);
    client.stream.start();
  }
  entry.tokenSources.add(tokenSource);
  return entry.client;
}

function releaseClient(client: HeraldClient, tokenSource: TokenProvider): void {
  for (const [key, entry] of sharedClients) {
    if (entry.client !== client) continue;
    entry.tokenSources.delete(tokenSource);
    if (entry.tokenSources.size === 0) {
      entry.client.stream.close();
      sharedClients.delete(key);
    }
  }
}

// Leaving the page hands the stream to another tab at once; back from the bfcache, resume.
if (typeof addEventListener === 'function') {
  addEventListener('pagehide', () => {
    for (const entry of sharedClients.values()) entry.client.stream.close();
  });
  addEventListener('pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) for (const entry of sharedClients.values()) entry.client.stream.start();
  });
}

/** The JWT's claims, unverified: only to name the shared stream and to know when to ask again. */
function claimsOf(token: string): { sub?: unknown; exp?: unknown; iat?: unknown } {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json) as { sub?: unknown; exp?: unknown; iat?: unknown };
  } catch {
    return {};
  }
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function newestFirst(a: HeraldNotification, b: HeraldNotification): number {
  if (a.created_at !== b.created_at) return a.created_at > b.created_at ? -1 : 1;
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : timeFormat.format(date);
}

const BELL_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/></svg>';

export class HeraldInboxElement extends HTMLElement {
  static readonly observedAttributes = ['server'];

  #token: string | null = null;
  #tokenProvider: (() => Promise<string> | string) | null = null;
  #cached: { token: string; expiresAt: number } | null = null;

  #client: HeraldClient | null = null;
  /** Whose inbox is shown: the `sub` of the token the element started with. */
  #user: string | null = null;
  #listeners: Array<() => void> = [];
  /** Bumped by every start and stop: an older start that is still waiting for a token gives up. */
  #generation = 0;
  readonly #tokenSource: TokenProvider = (context) => this.#getToken(context.reason);

  readonly #items = new Map<string, HeraldNotification>();
  readonly #rows = new Map<string, HTMLLIElement>();
  /** Ids already announced with `herald-notification`: a replay or refetch never repeats one. */
  readonly #announced = new Set<string>();
  #unread: number | null = null;
  #nextCursor: string | null = null;
  #refetching: Promise<void> | null = null;

  readonly #root: ShadowRoot;
  readonly #bell: HTMLButtonElement;
  readonly #badge: HTMLSpanElement;
  readonly #panel: HTMLDivElement;
  readonly #state: HTMLSpanElement;
  readonly #list: HTMLUListElement;
  readonly #empty: HTMLParagraphElement;
  readonly #error: HTMLParagraphElement;
  readonly #more: HTMLButtonElement;
  readonly #live: HTMLDivElement;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    const style = h('style');
    style.textContent = STYLES;

    this.#bell = h('button', { type: 'button', class: 'bell', part: 'bell', 'data-testid': 'bell', 'aria-haspopup': 'dialog', 'aria-expanded': 'false', 'aria-controls': 'panel' });
    this.#bell.innerHTML = BELL_ICON;
    this.#badge = h('span', { class: 'badge', part: 'badge', 'data-testid': 'unread-count', 'data-zero': 'true', 'aria-hidden': 'true' }, '0');
    this.#bell.append(this.#badge);

    this.#panel = h('div', { id: 'panel', class: 'panel', part: 'panel', role: 'dialog', 'aria-labelledby': 'heading', tabindex: '-1' });
    this.#panel.hidden = true;
    const header = h('header', { part: 'header' });
    this.#state = h('span', { class: 'state', part: 'connection-state', 'data-testid': 'connection-state', 'data-state': 'closed' }, 'closed');
    const readAll = h('button', { type: 'button', class: 'link', part: 'mark-all-read', 'data-testid': 'mark-all-read' }, 'Mark all read');
    const close = h('button', { type: 'button', class: 'close', part: 'close', 'aria-label': 'Close notifications' }, '×');
    header.append(h('h2', { id: 'heading' }, 'Notifications'), this.#state, readAll, close);
    this.#error = h('p', { class: 'error', part: 'error', role: 'alert' });
    this.#error.hidden = true;
    this.#list = h('ul', { part: 'list', 'aria-labelledby': 'heading' });
    this.#empty = h('p', { class: 'note', part: 'empty' }, 'Loading…');
    this.#more = h('button', { type: 'button', class: 'link more', part: 'load-more' }, 'Load more');
    this.#more.hidden = true;
    this.#panel.append(header, this.#error, this.#list, this.#empty, this.#more);
    // Polite: an arrival is read out after what the user is doing, never interrupting it.
    this.#live = h('div', { class: 'sr', 'aria-live': 'polite', 'data-testid': 'announcer' });
    this.#root.append(style, this.#bell, this.#panel, this.#live);
    this.#bell.setAttribute('aria-label', 'Notifications');

    this.#bell.addEventListener('click', () => this.toggle());
    close.addEventListener('click', () => this.close());
    readAll.addEventListener('click', () => this.#readAll());
    this.#more.addEventListener('click', () => this.#loadMore());
    this.#root.addEventListener('keydown', (event) => {
      if ((event as KeyboardEvent).key === 'Escape' && this.open) {
        event.stopPropagation();
        this.close();
      }
    });
  }

  /** A JWT for the user. Prefer `tokenProvider` for tokens that expire. */
  get token(): string | null {
    return this.#token;
  }
  set token(value: string | null) {
    this.#token = value || null;
    this.#cached = null;
    // A fresh token for the same user is simply used from the next request on; the
    // stream is kept.
    const sub = this.#token ? claimsOf(this.#token).sub : undefined;
    if (this.#client && this.#token && sub === this.#user) return;
    this.#restart();
  }

  /** Asked for a JWT when the element starts and again whenever the last one expired or was refused. */
  get tokenProvider(): (() => Promise<string> | string) | null {
    return this.#tokenProvider;
  }
  set tokenProvider(value: (() => Promise<string> | string) | null) {
    this.#tokenProvider = typeof value === 'function' ? value : null;
    this.#cached = null;
    this.#restart();
  }

  /** The number of unread notifications, once known. */
  get unreadCount(): number | null {
    return this.#unread;
  }

  get open(): boolean {
    return !this.#panel.hidden;
  }

  connectedCallback(): void {
    // A framework or script may have set these before the element was defined: they then
    // sit on the instance and hide the accessors above.
    for (const name of ['token', 'tokenProvider'] as const) {
      if (Object.prototype.hasOwnProperty.call(this, name)) {
        const value = (this as Record<string, unknown>)[name];
        delete (this as Record<string, unknown>)[name];
        (this as Record<string, unknown>)[name] = value;
      }
    }
    document.addEventListener('pointerdown', this.#onOutside, true);
    this.#restart();
  }

  disconnectedCallback(): void {
    document.removeEventListener('pointerdown', this.#onOutside, true);
    this.#stop();
  }

  attributeChangedCallback(): void {
    this.#restart();
  }

  show(): void {
    if (this.open) return;
    this.#panel.hidden = false;
    this.#bell.setAttribute('aria-expanded', 'true');
    this.#panel.focus();
  }

  /** Closes the panel; focus inside it goes back to the bell unless `restoreFocus` is false. */
  close(restoreFocus = true): void {
    if (!this.open) return;
    const hadFocus = restoreFocus && this.#root.activeElement !== null && this.#root.activeElement !== this.#bell;
    this.#panel.hidden = true;
    this.#bell.setAttribute('aria-expanded', 'false');
    // Focus goes back where it came from, not to the top of the host page.
    if (hadFocus) this.#bell.focus();
  }

  toggle(): void {
    if (this.open) this.close();
    else this.show();
  }

  readonly #onOutside = (event: Event): void => {
    if (this.open && !event.composedPath().includes(this)) this.close(false);
  };

  async #getToken(reason: TokenRequestReason): Promise<string | null> {
    const provider = this.#tokenProvider;
    // A fixed token is all there is unless a provider can do better after a refusal.
    if (this.#token && (reason === 'connect' || !provider)) return this.#token;
    if (!provider) return null;
    const cached = this.#cached;
    if (reason === 'connect' && cached && cached.expiresAt > Date.now()) return cached.token;
    const token = await provider();
    const { exp, iat } = claimsOf(token);
    let expiresAt = Infinity;
    if (typeof exp === 'number') {
      // Short-lived tokens get a proportionally shorter margin, so they are still used.
      const lifetimeMs = typeof iat === 'number' ? (exp - iat) * 1000 : EXPIRY_MARGIN_MS * 4;
      expiresAt = exp * 1000 - Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4);
    }
    this.#cached = { token, expiresAt };
    return token;
  }

  #restart(): void {
    this.#stop();
    void this.#start();
  }

  async #start(): Promise<void> {
    const server = this.getAttribute('server');
    if (!this.isConnected || !server || (!this.#token && !this.#tokenProvider)) return;
    const generation = this.#generation;
    let user: string;
    try {
      const token = await this.#getToken('connect');
      if (generation !== this.#generation) return;
      const sub = token ? claimsOf(token).sub : undefined;
      user = typeof sub === 'string' ? sub : 'anonymous';
    } catch (err) {
      if (generation === this.#generation) this.#showError(`Could not get a token: ${describe(err)}`);
      return;
    }
    const base = new URL(server, location.href).toString();
    const client = acquireClient(base, user, this.#tokenSource);
    this.#client = client;
    this.#user = user;
    const { stream } = client;
    this.#showState(stream.state === 'closed' ? 'connecting' : stream.state);
    // Every subscription is undone by #stop: the client may outlive this element.
    const track = (off: () => void): void => {
      this.#listeners.push(off);
    };
    track(stream.on('state', ({ newState }) => {
      this.#showState(newState);
      if (newState === 'open') this.#showError(undefined);
    }));
    track(stream.on('notification', (n) => {
      this.#upsert(n);
      this.#showUnread(n.unread_count);
      this.#announce(n);
    }));
    track(stream.on('notification.updated', (update) => this.#applyUpdate(update)));
    // Read changes are not replayed on resume: whenever a stream (re)opens, refetch.
    track(stream.on('ready', (ready) => {
      this.#showUnread(ready.unread_count);
      void this.#refetch();
    }));
    track(stream.on('reset', () => void this.#refetch()));
    track(stream.on('error', (err) => {
      if (err.code === 'unauthorized' || err.code === 'forbidden') this.#showError('Herald refused the token.');
      // A page origin Herald may not let in: say what to set rather than retry in silence.
      else if (namesCorsOrigin(err)) this.#showError(err.message);
    }));
    void this.#refetch();
  }

  #stop(): void {
    this.#generation += 1;
    for (const off of this.#listeners) off();
    this.#listeners = [];
    if (this.#client) releaseClient(this.#client, this.#tokenSource);
    this.#client = null;
    this.#user = null;
    for (const row of this.#rows.values()) row.remove();
    this.#rows.clear();
    this.#items.clear();
    this.#nextCursor = null;
    this.#showState('closed');
  }

  /** The first page from the server, merged: its statuses win, live arrivals stay. */
  #refetch(): Promise<void> {
    const client = this.#client;
    if (!client) return Promise.resolve();
    this.#refetching ??= client.inbox
      .list({ limit: PAGE_SIZE })
      .then((page) => {
        if (client !== this.#client) return;
        for (const item of page.items) this.#upsert(item);
        this.#nextCursor ??= page.next_cursor;
        this.#showUnread(page.unread_count);
        this.#showError(undefined);
      })
      .catch((err: unknown) => this.#showError(`Could not load notifications: ${describe(err)}`))
      .finally(() => {
        this.#refetching = null;
        this.#refreshEmpty();
      });
    return this.#refetching;
  }

  #loadMore(): void {
    const client = this.#client;
    if (!client || !this.#nextCursor) return;
    client.inbox
      .list({ limit: PAGE_SIZE, cursor: this.#nextCursor })
      .then((page) => {
        for (const item of page.items) this.#upsert(item);
        this.#nextCursor = page.next_cursor;
        this.#refreshEmpty();
      })
      .catch((err: unknown) => this.#showError(`Could not load more: ${describe(err)}`));
  }

  #setStatus(id: string, status: 'read' | 'unread'): void {
    const client = this.#client;
    if (!client) return;
    (status === 'read' ? client.inbox.markRead(id) : client.inbox.markUnread(id))
      .then((change) => {
        this.#upsert(change.notification);
        this.#showUnread(change.unread_count);
        this.#showError(undefined);
      })
      .catch((err: unknown) => this.#showError(`Could not mark it ${status}: ${describe(err)}`));
  }

  #readAll(): void {
    this.#client?.inbox
      .readAll()
      .then((body) => {
        this.#applyUpdate({ ids: [], status: 'read', archived: null, seen: null, all: true, unread_count: body.unread_count, notification: null });
        this.#showError(undefined);
      })
      .catch((err: unknown) => this.#showError(`Could not mark all read: ${describe(err)}`));
  }

  #applyUpdate(update: NotificationUpdatedEvent): void {
    if (update.notification) {
      this.#upsert(update.notification);
    } else {
      for (const id of update.all ? [...this.#items.keys()] : update.ids) {
        const item = this.#items.get(id);
        if (!item) continue;
        if (update.archived === true) {
          this.#remove(id);
          continue;
        }
        const status = update.status ?? item.status;
        this.#upsert({ ...item, status, read_at: status === 'read' ? (item.read_at ?? new Date().toISOString()) : null });
      }
    }
    this.#showUnread(update.unread_count);
  }

  #announce(notification: HeraldNotification): void {
    if (this.#announced.has(notification.id)) return;
    this.#announced.add(notification.id);
    // Bounded like the SDK's own de-duplication: the oldest ids are past any replay.
    if (this.#announced.size > ANNOUNCED_LIMIT) this.#announced.delete(this.#announced.values().next().value as string);
    this.#live.textContent = `New notification: ${notification.title ?? notification.content}`;
    this.#emit('herald-notification', { notification } satisfies HeraldNotificationEventDetail);
  }

  #emit(type: string, detail: unknown, cancelable = false): boolean {
    return this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true, cancelable }));
  }

  #showUnread(count: number): void {
    this.#badge.textContent = count > 99 ? '99+' : String(count);
    this.#badge.dataset.zero = String(count === 0);
    this.#bell.setAttribute('aria-label', count === 1 ? 'Notifications, 1 unread' : `Notifications, ${count} unread`);
    if (count === this.#unread) return;
    this.#unread = count;
    this.#emit('herald-unread-change', { count } satisfies HeraldUnreadChangeEventDetail);
  }

  #showState(state: StreamState): void {
    this.#state.textContent = state;
    this.#state.dataset.state = state;
  }

  #showError(message: string | undefined): void {
    this.#error.textContent = message ?? '';
    this.#error.hidden = message === undefined;
  }

  #refreshEmpty(): void {
    this.#empty.textContent = this.#refetching ? 'Loading…' : 'No notifications';
    this.#empty.hidden = this.#items.size > 0;
    this.#more.hidden = this.#nextCursor === null;
  }

  #remove(id: string): void {
    this.#rows.get(id)?.remove();
    this.#rows.delete(id);
    this.#items.delete(id);
    this.#refreshEmpty();
  }

  /**
   * Adds a row or updates the existing one in place, so a button that has keyboard focus
   * keeps it when its item changes.
   */
  #upsert(notification: HeraldNotification): void {
    if (notification.archived_at) {
      this.#remove(notification.id);
      return;
    }
    this.#items.set(notification.id, notification);
    let row = this.#rows.get(notification.id);
    if (!row) {
      row = this.#createRow(notification.id);
      this.#rows.set(notification.id, row);
      this.#list.insertBefore(row, this.#nextSibling(notification));
    }
    this.#fillRow(row, notification);
    this.#refreshEmpty();
  }

  #createRow(id: string): HTMLLIElement {
    const row = h('li', { 'data-testid': 'notification', 'data-id': id });
    const open = h('button', { type: 'button', class: 'open', 'data-testid': 'open' });
    open.append(h('span', { class: 'title' }), h('span', { class: 'content' }), h('span', { class: 'meta' }));
    const toggle = h('button', { type: 'button', class: 'toggle' });
    row.append(open, toggle);
    open.addEventListener('click', () => {
      const notification = this.#items.get(id);
      if (!notification) return;
      // The host decides where to go (to the checked href); reading it is the default it may cancel.
      const href = safeHref(notification.data?.url, document.baseURI, parseAllowedOrigins(this.getAttribute('allowed-origins')));
      const proceed = this.#emit('herald-click', { notification, href } satisfies HeraldClickEventDetail, true);
      if (proceed && notification.status === 'unread') this.#setStatus(id, 'read');
    });
    toggle.addEventListener('click', () => {
      const notification = this.#items.get(id);
      if (notification) this.#setStatus(id, notification.status === 'unread' ? 'read' : 'unread');
    });
    return row;
  }

  #fillRow(row: HTMLLIElement, notification: HeraldNotification): void {
    const unread = notification.status === 'unread';
    row.dataset.status = notification.status;
    row.setAttribute('part', unread ? 'item item-unread' : 'item item-read');
    const [open, toggle] = row.children as unknown as [HTMLButtonElement, HTMLButtonElement];
    const [title, content, meta] = open.children as unknown as [HTMLElement, HTMLElement, HTMLElement];
    title.textContent = notification.title ?? '';
    title.hidden = !notification.title;
    content.textContent = notification.content;
    meta.textContent = `${unread ? 'Unread · ' : ''}${notification.type} · ${formatTime(notification.created_at)}`;
    const label = notification.title ?? notification.content;
    toggle.textContent = unread ? 'Mark read' : 'Mark unread';
    toggle.dataset.testid = unread ? 'mark-read' : 'mark-unread';
    toggle.setAttribute('part', unread ? 'mark-read' : 'mark-unread');
    toggle.setAttribute('aria-label', `${unread ? 'Mark read' : 'Mark unread'}: ${label}`);
  }

  #nextSibling(notification: HeraldNotification): Element | null {
    for (let candidate = this.#list.firstElementChild; candidate; candidate = candidate.nextElementSibling) {
      const other = this.#items.get((candidate as HTMLElement).dataset.id ?? '');
      if (other && other.id !== notification.id && newestFirst(notification, other) < 0) return candidate;
    }
    return null;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

if (typeof customElements !== 'undefined' && !customElements.get('herald-inbox')) {
  customElements.define('herald-inbox', HeraldInboxElement);
}

declare global {
  interface HTMLElementTagNameMap {
    'herald-inbox': HeraldInboxElement;
  }
  interface HTMLElementEventMap {
    'herald-notification': CustomEvent<HeraldNotificationEventDetail>;
    'herald-unread-change': CustomEvent<HeraldUnreadChangeEventDetail>;
    'herald-click': CustomEvent<HeraldClickEventDetail>;
  }
}
