import type { HeraldNotification, InboxSnapshot, StreamState } from '../../client/src/index.js';
import { absoluteTime, relativeTimeElement } from '../../client/src/view/relative-time.js';
import { SNOOZE_CHOICES, type SnoozeChoice } from '../../client/src/view/snooze-choices.js';

/** Which part of the inbox the page shows. */
export type PageFilter = 'all' | 'unread' | 'snoozed' | 'archived';

export interface InboxActions {
  setStatus(id: string, status: 'read' | 'unread'): void;
  archive(id: string, archived: boolean): void;
  /** `null` wakes a snoozed item now. */
  snooze(id: string, choice: SnoozeChoice | null): void;
  readAll(): void;
  loadMore(): void;
  showFilter(filter: PageFilter): void;
}

const HIGHLIGHT_MS = 1500;

const EMPTY_TEXT: Record<PageFilter, string> = {
  all: "You're all caught up — no notifications yet.",
  unread: 'Nothing unread.',
  snoozed: 'Nothing snoozed.',
  archived: 'Nothing archived.',
};

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

function button(testid: string, text: string, onClick: () => void): HTMLButtonElement {
  const element = el('button', undefined, text);
  element.type = 'button';
  element.dataset.testid = testid;
  element.addEventListener('click', onClick);
  return element;
}

/**
 * The inbox DOM, drawn from the SDK's inbox state: one `<li>` per notification id, newest
 * first. `render` reuses the element of an unchanged item (a highlight or a focused button
 * survives other items changing) and moves keyboard focus to a neighbour when the focused
 * item leaves.
 */
export class InboxView {
  readonly #elements = new Map<string, { element: HTMLLIElement; drawn: string }>();
  readonly #list = byId<HTMLUListElement>('list');
  readonly #badge = document.querySelector<HTMLElement>('[data-testid="unread-count"]') as HTMLElement;
  readonly #state = document.querySelector<HTMLElement>('[data-testid="connection-state"]') as HTMLElement;
  readonly #empty = byId('empty');
  readonly #loading = byId('loading');
  readonly #error = byId('error');
  readonly #more = byId<HTMLButtonElement>('more');
  readonly #filters = [...document.querySelectorAll<HTMLButtonElement>('[data-filter]')];
  readonly #actions: InboxActions;
  #filter: PageFilter = 'all';

  constructor(actions: InboxActions) {
    this.#actions = actions;
    byId('mark-all-read').addEventListener('click', () => actions.readAll());
    this.#more.addEventListener('click', () => {
      this.#more.disabled = true;
      actions.loadMore();
    });
    for (const choice of this.#filters) {
      choice.addEventListener('click', () => actions.showFilter(choice.dataset.filter as PageFilter));
    }
    // Escape closes an open snooze menu and gives focus back to its button.
    this.#list.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      const menu = (event.target as HTMLElement).closest('.actions')?.querySelector<HTMLElement>('.snooze-menu');
      if (menu && !menu.hidden) this.#closeMenu(menu, true);
    });
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

  showFilter(filter: PageFilter): void {
    this.#filter = filter;
    for (const choice of this.#filters) choice.setAttribute('aria-pressed', String(choice.dataset.filter === filter));
    this.#empty.textContent = EMPTY_TEXT[filter];
  }

  /** Draws the state: the list, the badge, the empty or loading note and "load more". */
  render(snapshot: InboxSnapshot): void {
    this.showUnread(snapshot.unreadCount);
    const focused = this.#focusedItem();
    const wanted = new Set(snapshot.items.map((item) => item.id));
    let focusNext: HTMLElement | undefined;
    for (const [id, { element }] of this.#elements) {
      if (wanted.has(id)) continue;
      if (focused?.id === id) focusNext = (element.nextElementSibling ?? element.previousElementSibling) as HTMLElement | undefined;
      element.remove();
      this.#elements.delete(id);
    }
    let cursor = this.#list.firstElementChild;
    for (const item of snapshot.items) {
      const drawn = JSON.stringify(item);
      const known = this.#elements.get(item.id);
      let element: HTMLLIElement;
      if (known && known.drawn === drawn) {
        element = known.element;
      } else {
        element = this.#draw(item);
        if (known) {
          known.element.replaceWith(element);
          if (cursor === known.element) cursor = element;
        }
        this.#elements.set(item.id, { element, drawn });
        if (focused?.id === item.id) this.#refocus(element, focused.testid);
      }
      if (cursor !== element) this.#list.insertBefore(element, cursor);
      else cursor = cursor.nextElementSibling;
    }
    if (focusNext?.isConnected) focusNext.focus();
    else if (focused && !wanted.has(focused.id)) byId('inbox-heading').focus();
    this.#loading.hidden = snapshot.loaded;
    this.#empty.hidden = !snapshot.loaded || snapshot.items.length > 0;
    this.#more.hidden = !snapshot.hasMore;
    this.#more.disabled = false;
  }

  /** After a refused action: the buttons disabled for the click work again. */
  enableActions(): void {
    for (const control of this.#list.querySelectorAll<HTMLButtonElement>('.actions button:disabled')) control.disabled = false;
  }

  /** Briefly marks a live arrival. */
  highlight(id: string): void {
    const element = this.#elements.get(id)?.element;
    if (!element) return;
    element.classList.add('arrived');
    setTimeout(() => element.classList.remove('arrived'), HIGHLIGHT_MS);
  }

  #focusedItem(): { id: string; testid: string | undefined } | undefined {
    const active = document.activeElement as HTMLElement | null;
    const item = active?.closest<HTMLElement>('[data-testid="notification"]');
    if (!item?.dataset.id || !this.#list.contains(item)) return undefined;
    return { id: item.dataset.id, testid: active?.dataset.testid };
  }

  /** Focus stays on the same control of a redrawn item (the read toggle swaps its test id). */
  #refocus(element: HTMLLIElement, testid: string | undefined): void {
    const swapped = testid === 'mark-read' ? 'mark-unread' : testid === 'mark-unread' ? 'mark-read' : testid;
    const target = element.querySelector<HTMLElement>(`[data-testid="${testid}"], [data-testid="${swapped}"]`) ?? element;
    target.focus();
  }

  #draw(notification: HeraldNotification): HTMLLIElement {
    const item = el('li', 'item');
    item.dataset.testid = 'notification';
    item.dataset.id = notification.id;
    item.dataset.status = notification.status;
    item.tabIndex = -1;
    const text = el('div', 'text');
    const meta = el('div', 'meta', `${notification.type} · `);
    meta.append(relativeTimeElement(notification.created_at, Date.now()));
    if (notification.snoozed_until && this.#filter === 'snoozed') {
      meta.append(` · snoozed until ${absoluteTime(notification.snoozed_until)}`);
    }
    text.append(meta);
    if (notification.title) text.append(el('p', 'title', notification.title));
    const content = el('p', 'content', notification.content);
    item.append(text, this.#drawActions(notification), content);
    return item;
  }

  #drawActions(notification: HeraldNotification): HTMLDivElement {
    const { id } = notification;
    const actions = el('div', 'actions');
    const unread = notification.status === 'unread';
    const toggle = button(unread ? 'mark-read' : 'mark-unread', unread ? 'Mark read' : 'Mark unread', () => {
      toggle.disabled = true;
      this.#actions.setStatus(id, unread ? 'read' : 'unread');
    });
    actions.append(toggle);
    const archived = notification.archived_at !== null;
    const archive = button(archived ? 'unarchive' : 'archive', archived ? 'Unarchive' : 'Archive', () => {
      archive.disabled = true;
      this.#actions.archive(id, !archived);
    });
    actions.append(archive);
    if (archived) return actions;
    if (this.#filter === 'snoozed') {
      const wake = button('unsnooze', 'Wake now', () => {
        wake.disabled = true;
        this.#actions.snooze(id, null);
      });
      actions.append(wake);
      return actions;
    }
    const menu = el('div', 'snooze-menu');
    menu.id = `snooze-${id}`;
    menu.hidden = true;
    menu.setAttribute('role', 'group');
    menu.setAttribute('aria-label', 'Snooze until');
    const snooze = button('snooze', 'Snooze', () => {
      if (menu.hidden) this.#openMenu(menu, snooze);
      else this.#closeMenu(menu, false);
    });
    snooze.setAttribute('aria-expanded', 'false');
    snooze.setAttribute('aria-controls', menu.id);
    for (const choice of SNOOZE_CHOICES) {
      const option = button('snooze-option', choice.label, () => {
        this.#closeMenu(menu, false);
        snooze.disabled = true;
        this.#actions.snooze(id, choice);
      });
      option.dataset.choice = choice.key;
      menu.append(option);
    }
    actions.append(snooze, menu);
    return actions;
  }

  #openMenu(menu: HTMLElement, opener: HTMLButtonElement): void {
    menu.hidden = false;
    opener.setAttribute('aria-expanded', 'true');
    menu.querySelector<HTMLButtonElement>('button')?.focus();
  }

  #closeMenu(menu: HTMLElement, returnFocus: boolean): void {
    menu.hidden = true;
    const opener = menu.parentElement?.querySelector<HTMLButtonElement>('[data-testid="snooze"]');
    opener?.setAttribute('aria-expanded', 'false');
    if (returnFocus) opener?.focus();
  }
}
