// <herald-inbox server="https://herald.example">: a bell with the unread count that opens
// the user's inbox, for any page, whatever its framework. Herald serves it bundled with the
// SDK at GET /herald-inbox.js. The stream, its reconnects and the one-stream-per-browser
// sharing are the SDK's, and so is what the inbox holds (InboxState, as on the inbox page):
// this file is the view and the glue.
import type { HeraldClient } from '../index.js';
import { InboxState, type InboxSnapshot } from '../inbox-state.js';
import type { HeraldNotification, StreamState, TokenProvider, TokenRequestReason } from '../types.js';
import { namesCorsOrigin } from '../network-error.js';
import { HeraldPush } from '../push.js';
import { PushToggle } from '../view/push-toggle.js';
import type { SnoozeChoice } from '../view/snooze-choices.js';
import type { NotificationAction } from './notification-extras.js';
import { h } from './dom.js';
import { NotificationRow, type RowContext } from './notification-row.js';
import { followBell, parsePlacement } from './panel-placement.js';
import { parseAllowedOrigins, safeHref } from './safe-href.js';
import { acquireClient, claimsOf, releaseClient } from './shared-client.js';
import { STYLES } from './styles.js';

const PAGE_SIZE = 30;
const ANNOUNCED_LIMIT = 1000;
/** A cached token is replaced this long before its `exp` (at most), so no request carries a dying one. */
const EXPIRY_MARGIN_MS = 30_000;
/** "3 min ago" is rewritten this often while the panel is open. */
const TIME_REFRESH_MS = 60_000;

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
 * An action button of a notification (`data.actions`) was clicked. `event` is the action's
 * event name for an event action; `href` the checked https URL of a link action (the element
 * then follows it unless a listener calls `preventDefault()`).
 */
export interface HeraldActionEventDetail extends HeraldNotificationEventDetail {
  label: string;
  event: string | undefined;
  href: string | undefined;
}

/** What the filter buttons show: the whole inbox or only the unread part. */
type PanelFilter = 'all' | 'unread';
const EMPTY_TEXT: Record<PanelFilter, string> = { all: 'No notifications', unread: 'Nothing unread' };

const BELL_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"/></svg>';

export class HeraldInboxElement extends HTMLElement {
  static readonly observedAttributes = ['server', 'placement', 'allowed-origins', 'push', 'service-worker'];

  #token: string | null = null;
  #tokenProvider: (() => Promise<string> | string) | null = null;
  #cached: { token: string; expiresAt: number } | null = null;

  #client: HeraldClient | null = null;
  #state: InboxState | null = null;
  /** Whose inbox is shown: the `sub` of the token the element started with. */
  #user: string | null = null;
  #listeners: Array<() => void> = [];
  /** Bumped by every start and stop: an older start that is still waiting for a token gives up. */
  #generation = 0;
  readonly #tokenSource: TokenProvider = (context) => this.#getToken(context.reason);

  #filter: PanelFilter = 'all';
  #snapshot: InboxSnapshot | null = null;
  readonly #rows = new Map<string, NotificationRow>();
  /** Ids already announced with `herald-notification`: a replay or refetch never repeats one. */
  readonly #announced = new Set<string>();
  #unread: number | null = null;
  /** The state's count is the server's (a `ready` or a first page came), not its initial 0. */
  #countKnown = false;
  #stopFollowing: (() => void) | null = null;
  #timeRefresh: ReturnType<typeof setInterval> | undefined;

  readonly #root: ShadowRoot;
  readonly #bell: HTMLButtonElement;
  readonly #badge: HTMLSpanElement;
  readonly #panel: HTMLDivElement;
  readonly #connection: HTMLSpanElement;
  readonly #filters: HTMLButtonElement[];
  readonly #list: HTMLUListElement;
  readonly #empty: HTMLParagraphElement;
  readonly #error: HTMLParagraphElement;
  readonly #more: HTMLButtonElement;
  readonly #live: HTMLDivElement;
  readonly #pushToggle: PushToggle;

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
    this.#connection = h('span', { class: 'state', part: 'connection-state', 'data-testid': 'connection-state', 'data-state': 'closed' }, 'closed');
    const close = h('button', { type: 'button', class: 'close', part: 'close', 'aria-label': 'Close notifications' }, '×');
    header.append(h('h2', { id: 'heading' }, 'Notifications'), this.#connection, close);

    const toolbar = h('div', { class: 'toolbar', part: 'toolbar' });
    const filters = h('div', { class: 'filters', role: 'group', 'aria-label': 'Show' });
    this.#filters = (['all', 'unread'] as const).map((filter) => {
      const choice = h('button', { type: 'button', class: 'filter', part: 'filter', 'data-testid': `filter-${filter}`, 'data-filter': filter, 'aria-pressed': String(filter === 'all') }, filter === 'all' ? 'All' : 'Unread');
      choice.addEventListener('click', () => this.#showFilter(filter));
      return choice;
    });
    filters.append(...this.#filters);
    const readAll = h('button', { type: 'button', class: 'link', part: 'mark-all-read', 'data-testid': 'mark-all-read' }, 'Mark all read');
    toolbar.append(filters, readAll);

    this.#error = h('p', { class: 'error', part: 'error', role: 'alert' });
    this.#error.hidden = true;
    const scroll = h('div', { class: 'scroll' });
    this.#list = h('ul', { part: 'list', 'aria-labelledby': 'heading' });
    this.#empty = h('p', { class: 'note', part: 'empty', 'data-testid': 'empty' }, 'Loading…');
    this.#more = h('button', { type: 'button', class: 'link more', part: 'load-more', 'data-testid': 'load-more' }, 'Load more');
    this.#more.hidden = true;
    scroll.append(this.#list, this.#empty, this.#more);
    // The place for controls under the list (the Web Push "Enable notifications" one); shown
    // only once something is in it.
    const footer = h('footer', { part: 'footer' });
    footer.hidden = true;
    const pushButton = h('button', { type: 'button', class: 'link', part: 'push-toggle', 'data-testid': 'push-toggle' });
    pushButton.hidden = true;
    const pushNote = h('p', { class: 'note', part: 'push-note', 'data-testid': 'push-note' });
    pushNote.hidden = true;
    footer.append(pushButton, pushNote);
    this.#pushToggle = new PushToggle({
      button: pushButton,
      note: pushNote,
      onShow: () => { footer.hidden = pushButton.hidden && pushNote.hidden; },
      onError: (message) => this.#showError(message),
    });
    this.#panel.append(header, toolbar, this.#error, scroll, footer);
    // Polite: an arrival is read out after what the user is doing, never interrupting it.
    this.#live = h('div', { class: 'sr', 'aria-live': 'polite', 'data-testid': 'announcer' });
    // Dims the page behind the sheet (phones only, by the stylesheet); a tap on it closes.
    const scrim = h('div', { class: 'scrim', part: 'scrim', 'data-testid': 'scrim' });
    scrim.addEventListener('click', () => this.close());
    this.#root.append(style, this.#bell, this.#panel, scrim, this.#live);
    this.#bell.setAttribute('aria-label', 'Notifications');

    this.#bell.addEventListener('click', () => this.toggle());
    close.addEventListener('click', () => this.close());
    readAll.addEventListener('click', () => this.#act('mark all read', (state) => state.readAll()));
    this.#more.addEventListener('click', () => void this.#state?.loadMore());
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
    this.close(false);
    this.#stop();
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    if (old === value) return;
    if (name === 'server') this.#restart();
    else if (name === 'push' || name === 'service-worker') this.#usePush();
    // Placement is read at every layout pass: one more pass applies it.
    else if (name === 'placement' && this.open) this.#follow();
    else if (name === 'allowed-origins') this.#render();
  }

  show(): void {
    if (this.open) return;
    this.#panel.hidden = false;
    this.#bell.setAttribute('aria-expanded', 'true');
    this.#follow();
    this.#refreshTimes();
    this.#timeRefresh = setInterval(() => this.#refreshTimes(), TIME_REFRESH_MS);
    this.#panel.focus();
  }

  /** Closes the panel; focus inside it goes back to the bell unless `restoreFocus` is false. */
  close(restoreFocus = true): void {
    if (!this.open) return;
    const hadFocus = restoreFocus && this.#root.activeElement !== null && this.#root.activeElement !== this.#bell;
    this.#panel.hidden = true;
    this.#bell.setAttribute('aria-expanded', 'false');
    this.#stopFollowing?.();
    this.#stopFollowing = null;
    clearInterval(this.#timeRefresh);
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

  #follow(): void {
    this.#stopFollowing?.();
    this.#stopFollowing = followBell(this.#bell, this.#panel, () => parsePlacement(this.getAttribute('placement')));
  }

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
    const state = new InboxState({ inbox: client.inbox, stream, pageSize: PAGE_SIZE, filter: { status: this.#filter } });
    this.#state = state;
    this.#showConnection(stream.state === 'closed' ? 'connecting' : stream.state);
    this.#usePush();
    // Every subscription is undone by #stop: the client may outlive this element. These are
    // made before the state's own, so a `ready` is known here before the state redraws.
    this.#listeners.push(
      stream.on('ready', () => { this.#countKnown = true; }),
      stream.on('state', ({ newState }) => {
        this.#showConnection(newState);
        if (newState === 'open') this.#showError(undefined);
      }),
      stream.on('error', (err) => {
        if (err.code === 'unauthorized' || err.code === 'forbidden') this.#showError('Herald refused the token.');
        // A page origin Herald may not let in: say what to set rather than retry in silence.
        else if (namesCorsOrigin(err)) this.#showError(err.message);
      }),
      state.on('change', (snapshot) => {
        this.#snapshot = snapshot;
        this.#render();
      }),
      state.on('arrived', (notification) => this.#announce(notification)),
      state.on('error', (err) => this.#showError(`Could not load notifications: ${describe(err)}`)),
      () => state.dispose(),
    );
    // The state refetches whenever the stream (re)opens or resets; it loads the first page now.
    void state.start().then(() => {
      if (state === this.#state && this.#snapshot?.loaded) this.#showError(undefined);
    });
  }

  #stop(): void {
    this.#generation += 1;
    for (const off of this.#listeners) off();
    this.#listeners = [];
    if (this.#client) releaseClient(this.#client, this.#tokenSource);
    this.#client = null;
    this.#state = null;
    this.#user = null;
    this.#snapshot = null;
    this.#countKnown = false;
    void this.#pushToggle.use(null);
    this.#render();
    this.#showConnection('closed');
  }

  /**
   * The "Enable notifications" control: off with `push="off"`; else the shared client's push,
   * or one registering the `service-worker` script (a worker of the page's own origin).
   */
  #usePush(): void {
    const client = this.#client;
    const server = this.getAttribute('server');
    if (!client || !server || this.getAttribute('push') === 'off') {
      void this.#pushToggle.use(null);
      return;
    }
    const worker = this.getAttribute('service-worker');
    const push = worker
      ? new HeraldPush({ url: new URL(server, location.href), getToken: this.#tokenSource, serviceWorker: new URL(worker, document.baseURI) })
      : client.push;
    void this.#pushToggle.use(push);
  }

  #showFilter(filter: PanelFilter): void {
    if (filter === this.#filter) return;
    this.#filter = filter;
    for (const choice of this.#filters) choice.setAttribute('aria-pressed', String(choice.dataset.filter === filter));
    void this.#state?.setFilter({ status: filter });
  }

  /** Runs one action on the state; a refusal shows in the panel's error area, success clears it. */
  #act(what: string, work: (state: InboxState) => Promise<void>): void {
    const state = this.#state;
    if (!state) return;
    work(state)
      .then(() => this.#showError(undefined))
      .catch((err: unknown) => this.#showError(`Could not ${what}: ${describe(err)}`));
  }

  readonly #rowHandlers = {
    open: (id: string): void => {
      const notification = this.#item(id);
      if (!notification) return;
      // The host decides where to go (to the checked href); reading it is the default it may cancel.
      const href = safeHref(notification.data?.url, document.baseURI, parseAllowedOrigins(this.getAttribute('allowed-origins')));
      const proceed = this.#emit('herald-click', { notification, href } satisfies HeraldClickEventDetail, true);
      if (proceed && notification.status === 'unread') this.#act('mark it read', (state) => state.markRead(id));
    },
    toggleRead: (id: string): void => {
      const read = this.#item(id)?.status === 'read';
      this.#act(read ? 'mark it unread' : 'mark it read', (state) => (read ? state.markUnread(id) : state.markRead(id)));
    },
    archive: (id: string): void => this.#act('archive it', (state) => state.archive(id)),
    snooze: (id: string, choice: SnoozeChoice): void => this.#act('snooze it', (state) => state.snooze(id, choice.until(new Date()))),
    action: (id: string, action: NotificationAction, click: Event): void => {
      const notification = this.#item(id);
      if (!notification) return;
      const detail: HeraldActionEventDetail = { notification, label: action.label, event: action.event, href: action.href };
      // Cancelling keeps the link from being followed and the item unread: the host handles it.
      if (!this.#emit('herald-action', detail, true)) {
        click.preventDefault();
        return;
      }
      if (notification.status === 'unread') this.#act('mark it read', (state) => state.markRead(id));
    },
  };

  #item(id: string): HeraldNotification | undefined {
    return this.#snapshot?.items.find((item) => item.id === id);
  }

  /** Draws the snapshot: rows (reused by id, newest first), the badge, the empty note and "load more". */
  #render(): void {
    const snapshot = this.#snapshot;
    const items = snapshot?.items ?? [];
    const context: RowContext = { pageUrl: document.baseURI, allowedOrigins: parseAllowedOrigins(this.getAttribute('allowed-origins')), now: Date.now() };
    const wanted = new Set(items.map((item) => item.id));
    const active = this.#root.activeElement;
    let refocus: { row: NotificationRow; control: string | undefined } | undefined;
    let lostFocus = false;
    for (const [id, row] of this.#rows) {
      if (wanted.has(id)) continue;
      const control = row.focusedControl(active);
      if (control !== undefined) {
        lostFocus = true;
        // The item below takes the focus (or the one above at the end of the list).
        const neighbour = [...this.#rows.values()].find((other) => other.element === (row.element.nextElementSibling ?? row.element.previousElementSibling));
        if (neighbour && wanted.has(neighbour.element.dataset.id ?? '')) refocus = { row: neighbour, control };
      }
      row.element.remove();
      this.#rows.delete(id);
    }
    let cursor = this.#list.firstElementChild;
    for (const item of items) {
      let row = this.#rows.get(item.id);
      if (!row) {
        row = new NotificationRow(item.id, this.#rowHandlers);
        this.#rows.set(item.id, row);
      }
      row.fill(item, context);
      if (cursor !== row.element) this.#list.insertBefore(row.element, cursor);
      else cursor = cursor.nextElementSibling;
    }
    if (refocus) refocus.row.focus(refocus.control);
    else if (lostFocus) this.#panel.focus();

    if (snapshot?.loaded) this.#countKnown = true;
    if (snapshot && this.#countKnown) this.#showUnread(snapshot.unreadCount);
    const loaded = snapshot?.loaded ?? false;
    this.#empty.textContent = loaded ? EMPTY_TEXT[this.#filter] : 'Loading…';
    this.#empty.hidden = items.length > 0;
    this.#more.hidden = !snapshot?.hasMore;
  }

  #refreshTimes(): void {
    const now = Date.now();
    for (const row of this.#rows.values()) row.refreshTime(now);
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

  #showConnection(state: StreamState): void {
    this.#connection.textContent = state;
    this.#connection.dataset.state = state;
  }

  #showError(message: string | undefined): void {
    this.#error.textContent = message ?? '';
    this.#error.hidden = message === undefined;
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
    'herald-action': CustomEvent<HeraldActionEventDetail>;
  }
}
