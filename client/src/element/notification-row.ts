// One notification in <herald-inbox>'s list. A row is built once per id and updated in place
// when its item changes, so a button that has keyboard focus keeps it (the read toggle swaps
// its label, not its element) and an open snooze menu stays open.
import type { HeraldNotification } from '../types.js';
import { relativeTimeElement, timeAgo } from '../view/relative-time.js';
import { SNOOZE_CHOICES, type SnoozeChoice } from '../view/snooze-choices.js';
import { h } from './dom.js';
import { actionsOf, avatarOf, type NotificationAction } from './notification-extras.js';

/** What a row's controls ask the element to do; each call names the row's notification id. */
export interface RowHandlers {
  open(id: string): void;
  toggleRead(id: string): void;
  archive(id: string): void;
  snooze(id: string, choice: SnoozeChoice): void;
  /** An action was clicked; `click` is its DOM event (cancel it to keep a link from being followed). */
  action(id: string, action: NotificationAction, click: Event): void;
}

/** Where the row's addresses are checked against: the host page, and the origins it allows for links. */
export interface RowContext {
  pageUrl: string;
  allowedOrigins: readonly string[] | null;
  now: number;
}

export class NotificationRow {
  readonly element: HTMLLIElement;
  readonly #id: string;
  readonly #handlers: RowHandlers;
  /** Only there while the item has a safe avatar address. */
  #avatar: HTMLImageElement | null = null;
  readonly #title: HTMLSpanElement;
  readonly #content: HTMLSpanElement;
  readonly #meta: HTMLSpanElement;
  readonly #actions: HTMLDivElement;
  readonly #toggle: HTMLButtonElement;
  readonly #archive: HTMLButtonElement;
  readonly #snooze: HTMLButtonElement;
  readonly #menu: HTMLDivElement;
  /** What was drawn last (item and context), so an unchanged item is not drawn again. */
  #drawn = '';

  constructor(id: string, handlers: RowHandlers) {
    this.#id = id;
    this.#handlers = handlers;
    this.element = h('li', { 'data-testid': 'notification', 'data-id': id });
    const open = h('button', { type: 'button', class: 'open', 'data-testid': 'open' });
    this.#title = h('span', { class: 'title' });
    this.#content = h('span', { class: 'content' });
    this.#meta = h('span', { class: 'meta' });
    open.append(this.#title, this.#content, this.#meta);
    open.addEventListener('click', () => handlers.open(id));

    this.#actions = h('div', { class: 'actions', part: 'actions' });
    this.#toggle = h('button', { type: 'button', class: 'control' });
    // Controls stay enabled while their request runs: disabling a focused button drops its
    // focus, and every request is idempotent, so a second click does no harm.
    this.#toggle.addEventListener('click', () => handlers.toggleRead(id));
    this.#archive = h('button', { type: 'button', class: 'control', part: 'archive', 'data-testid': 'archive' }, 'Archive');
    this.#archive.addEventListener('click', () => handlers.archive(id));
    this.#menu = h('div', { class: 'snooze-menu', part: 'snooze-menu', role: 'group', 'aria-label': 'Snooze until', id: `snooze-${id}` });
    this.#menu.hidden = true;
    this.#snooze = h('button', { type: 'button', class: 'control', part: 'snooze', 'data-testid': 'snooze', 'aria-expanded': 'false', 'aria-controls': this.#menu.id }, 'Snooze');
    this.#snooze.addEventListener('click', () => this.#setMenu(this.#menu.hidden, false));
    for (const choice of SNOOZE_CHOICES) {
      const option = h('button', { type: 'button', class: 'control', part: 'snooze-option', 'data-testid': 'snooze-option', 'data-choice': choice.key }, choice.label);
      option.addEventListener('click', () => {
        this.#setMenu(false, true);
        handlers.snooze(id, choice);
      });
      this.#menu.append(option);
    }
    // Escape closes an open menu and gives focus back to its button (before the panel closes).
    this.#menu.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation();
      this.#setMenu(false, true);
    });
    const controls = h('div', { class: 'controls' });
    controls.append(this.#toggle, this.#archive, this.#snooze);

    const body = h('div', { class: 'body' });
    body.append(open, this.#actions, controls, this.#menu);
    this.element.append(body);
  }

  /** Draws `notification`; a no-op when neither it nor the checked addresses changed. */
  fill(notification: HeraldNotification, context: RowContext): void {
    const drawn = JSON.stringify([notification, context.pageUrl, context.allowedOrigins]);
    if (drawn === this.#drawn) return;
    this.#drawn = drawn;
    const unread = notification.status === 'unread';
    const label = notification.title ?? notification.content;
    this.element.dataset.status = notification.status;
    this.element.setAttribute('part', unread ? 'item item-unread' : 'item item-read');

    this.#drawAvatar(avatarOf(notification, context.pageUrl), notification.title ?? '');

    this.#title.textContent = notification.title ?? '';
    this.#title.hidden = !notification.title;
    this.#content.textContent = notification.content;
    this.#meta.replaceChildren(`${unread ? 'Unread · ' : ''}${notification.type} · `, relativeTimeElement(notification.created_at, context.now));

    this.#actions.replaceChildren(...actionsOf(notification, context.pageUrl, context.allowedOrigins).map((action) => this.#drawAction(action)));
    this.#actions.hidden = this.#actions.childElementCount === 0;

    this.#toggle.textContent = unread ? 'Mark read' : 'Mark unread';
    this.#toggle.dataset.testid = unread ? 'mark-read' : 'mark-unread';
    this.#toggle.setAttribute('part', unread ? 'mark-read' : 'mark-unread');
    this.#toggle.setAttribute('aria-label', `${unread ? 'Mark read' : 'Mark unread'}: ${label}`);
    this.#archive.setAttribute('aria-label', `Archive: ${label}`);
    this.#snooze.setAttribute('aria-label', `Snooze: ${label}`);
  }

  /** Rewrites "3 min ago" as time passes. */
  refreshTime(now: number): void {
    const time = this.#meta.querySelector('time');
    if (time) time.textContent = timeAgo(time.dateTime, now);
  }

  /** Which control of this row has focus (its test id), to give it back to a neighbour's. */
  focusedControl(active: Element | null): string | undefined {
    return active && this.element.contains(active) ? ((active as HTMLElement).dataset.testid ?? 'open') : undefined;
  }

  /** Focuses the control named like `testid` in this row (or its main button). */
  focus(testid: string | undefined): void {
    const swapped = testid === 'mark-read' ? 'mark-unread' : testid === 'mark-unread' ? 'mark-read' : testid;
    const target = this.element.querySelector<HTMLElement>(`[data-testid="${testid}"]:not([hidden]), [data-testid="${swapped}"]`);
    (target ?? this.element.querySelector<HTMLElement>('.open'))?.focus();
  }

  #drawAvatar(src: string | undefined, alt: string): void {
    if (src === undefined) {
      this.#avatar?.remove();
      this.#avatar = null;
      return;
    }
    if (!this.#avatar) {
      // No referrer: the image's host learns nothing of the page showing it. A broken
      // address hides the image rather than showing a torn icon.
      const avatar = h('img', { class: 'avatar', part: 'avatar', 'data-testid': 'avatar', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer', width: '32', height: '32' });
      avatar.addEventListener('error', () => { avatar.hidden = true; });
      this.element.prepend(avatar);
      this.#avatar = avatar;
    }
    if (this.#avatar.getAttribute('src') !== src) {
      this.#avatar.hidden = false;
      this.#avatar.src = src;
    }
    this.#avatar.alt = alt;
  }

  #drawAction(action: NotificationAction): HTMLElement {
    // A URL action is a real link (open in a new tab, copy the address); an event action a button.
    const control = action.href !== undefined
      ? h('a', { class: 'action', part: 'action', 'data-testid': 'action', href: action.href, rel: 'noopener noreferrer' }, action.label)
      : h('button', { type: 'button', class: 'action', part: 'action', 'data-testid': 'action', 'data-event': action.event }, action.label);
    control.addEventListener('click', (event) => this.#handlers.action(this.#id, action, event));
    return control;
  }

  #setMenu(open: boolean, returnFocus: boolean): void {
    this.#menu.hidden = !open;
    this.#snooze.setAttribute('aria-expanded', String(open));
    if (open) this.#menu.querySelector('button')?.focus();
    else if (returnFocus) this.#snooze.focus();
  }
}
