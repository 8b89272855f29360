import type { HeraldNotification, NotificationUpdatedEvent, StreamState } from '../../client/src/index.js';

export interface InboxActions {
  setStatus(id: string, status: 'read' | 'unread'): void;
  readAll(): void;
  loadMore(): void;
}

const HIGHLIGHT_MS = 1500;

function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * The inbox DOM: one `<li>` per notification id, newest first. Every change goes through
 * `upsert`/`applyUpdate`, so a notification seen via the list and the stream is shown once.
 */
export class InboxView {
  readonly #items = new Map<string, HeraldNotification>();
  readonly #elements = new Map<string, HTMLLIElement>();
  readonly #list = byId<HTMLUListElement>('list');
  readonly #badge = document.querySelector<HTMLElement>('[data-testid="unread-count"]') as HTMLElement;
  readonly #state = document.querySelector<HTMLElement>('[data-testid="connection-state"]') as HTMLElement;
  readonly #empty = byId('empty');
  readonly #loading = byId('loading');
  readonly #error = byId('error');
  readonly #more = byId<HTMLButtonElement>('more');
  readonly #actions: InboxActions;

  constructor(actions: InboxActions) {
    this.#actions = actions;
    byId('mark-all-read').addEventListener('click', () => actions.readAll());
    this.#more.addEventListener('click', () => actions.loadMore());
  }

  showState(state: StreamState): void {
    this.#state.textContent = state;
    this.#state.dataset.state = state;
  }

  showUnread(count: number): void {
    this.#badge.textContent = String(count);
    this.#badge.dataset.zero = String(count === 0);
    document.title = count > 0 ? `(${count}) Herald inbox` : 'Herald inbox';
  }

  showError(message: string | undefined): void {
    this.#error.textContent = message ?? '';
    this.#error.hidden = message === undefined;
  }

  loaded(hasMore: boolean): void {
    this.#loading.hidden = true;
    this.#more.hidden = !hasMore;
    this.#refreshEmpty();
  }

  /** Adds or refreshes an item; `live` marks a new arrival with a brief highlight. */
  upsert(notification: HeraldNotification, live = false): void {
    if (notification.archived_at) {
      this.remove(notification.id);
      return;
    }
    const known = this.#elements.get(notification.id);
    this.#items.set(notification.id, notification);
    const element = this.#render(notification);
    if (known) {
      known.replaceWith(element);
    } else {
      this.#list.insertBefore(element, this.#nextSibling(notification));
      if (live) {
        element.classList.add('arrived');
        setTimeout(() => element.classList.remove('arrived'), HIGHLIGHT_MS);
      }
    }
    this.#elements.set(notification.id, element);
    this.#refreshEmpty();
  }

  remove(id: string): void {
    this.#elements.get(id)?.remove();
    this.#elements.delete(id);
    this.#items.delete(id);
    this.#refreshEmpty();
  }

  applyUpdate(update: NotificationUpdatedEvent): void {
    if (update.notification) {
      this.upsert(update.notification);
    } else {
      const ids = update.all ? [...this.#items.keys()] : update.ids;
      for (const id of ids) {
        const item = this.#items.get(id);
        if (!item) continue;
        if (update.archived === true) {
          this.remove(id);
          continue;
        }
        const now = new Date().toISOString();
        const status = update.status ?? item.status;
        this.upsert({
          ...item,
          status,
          read_at: status === 'read' ? (item.read_at ?? now) : null,
          seen_at: update.seen ? (item.seen_at ?? now) : item.seen_at,
        });
      }
    }
    this.showUnread(update.unread_count);
  }

  /** Newest first: the first element that sorts after the new item, or null for the end. */
  #nextSibling(notification: HeraldNotification): Element | null {
    for (let candidate = this.#list.firstElementChild; candidate; candidate = candidate.nextElementSibling) {
      const other = this.#items.get((candidate as HTMLElement).dataset.id ?? '');
      if (other && compareNewestFirst(notification, other) < 0) return candidate;
    }
    return null;
  }

  #render(notification: HeraldNotification): HTMLLIElement {
    const item = el('li', 'item');
    item.dataset.testid = 'notification';
    item.dataset.id = notification.id;
    item.dataset.status = notification.status;
    const text = el('div', 'text');
    const meta = el('div', 'meta', `${notification.type} · ${formatTime(notification.created_at)}`);
    text.append(meta);
    if (notification.title) text.append(el('p', 'title', notification.title));
    const content = el('p', 'content', notification.content);
    const actions = el('div', 'actions');
    const unread = notification.status === 'unread';
    const button = el('button', undefined, unread ? 'Mark read' : 'Mark unread');
    button.type = 'button';
    button.dataset.testid = unread ? 'mark-read' : 'mark-unread';
    button.addEventListener('click', () => {
      button.disabled = true;
      this.#actions.setStatus(notification.id, unread ? 'read' : 'unread');
    });
    actions.append(button);
    item.append(text, actions, content);
    return item;
  }

  #refreshEmpty(): void {
    this.#empty.hidden = this.#items.size > 0 || !this.#loading.hidden;
  }
}

function compareNewestFirst(a: HeraldNotification, b: HeraldNotification): number {
  if (a.created_at !== b.created_at) return a.created_at > b.created_at ? -1 : 1;
  return a.id > b.id ? -1 : a.id < b.id ? 1 : 0;
}

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}
