// The "Enable notifications" switch of the inbox page and of <herald-inbox>: one button (and,
// where the view has one, a note for the blocked case) driven by `client.push.status()`.
import type { HeraldPush, PushStatus } from '../push.js';

/** Said when the user blocked notifications for the site: only the browser can undo that. */
export const PUSH_BLOCKED_TEXT = 'Notifications are blocked in your browser settings';

/** What the button says in each state, and whether it is pressed (subscribed). */
const LABELS: Record<PushStatus, { text: string; title: string }> = {
  unsupported: { text: '', title: '' },
  disabled: { text: '', title: '' },
  denied: { text: PUSH_BLOCKED_TEXT, title: 'Allow notifications for this site in the browser\'s settings to get them.' },
  unsubscribed: { text: 'Enable notifications', title: 'Get a notification when you are away from this page.' },
  subscribed: { text: 'Turn off notifications', title: 'You get a notification when you are away from this page. Press to turn them off.' },
};

export interface PushToggleView {
  button: HTMLButtonElement;
  /** Where the blocked message goes; without one the (disabled) button says it. */
  note?: HTMLElement;
  /** After every redraw (e.g. to hide a container with nothing shown). */
  onShow?: (status: PushStatus) => void;
  /** A press failed (undefined: the last one worked). Never called for the user's refusal. */
  onError: (message: string | undefined) => void;
}

/**
 * Web Push for this browser, shown only where the browser supports it and the server has push
 * on; a press subscribes (the browser asks the user's permission) or unsubscribes. Nothing
 * here throws: a failure is reported through `onError`.
 */
export class PushToggle {
  readonly #view: PushToggleView;
  #push: HeraldPush | null = null;
  #status: PushStatus = 'unsupported';
  /** Bumped by every `use`: an older status answer is dropped. */
  #generation = 0;

  constructor(view: PushToggleView) {
    this.#view = view;
    view.button.addEventListener('click', () => void this.#toggle());
    // A permission changed in the browser's settings shows without a reload.
    globalThis.navigator?.permissions?.query({ name: 'notifications' })
      .then((permission) => permission.addEventListener('change', () => void this.refresh()))
      .catch(() => {});
  }

  /** Drives the control with `push` (null: nothing to show) and asks where push stands. */
  use(push: HeraldPush | null): Promise<void> {
    this.#push = push;
    this.#generation += 1;
    return this.refresh();
  }

  async refresh(): Promise<void> {
    const generation = this.#generation;
    const push = this.#push;
    const status = push ? await push.status().catch((): PushStatus => 'unsupported') : 'unsupported';
    if (generation === this.#generation) this.#show(push ? status : null);
  }

  async #toggle(): Promise<void> {
    const push = this.#push;
    if (!push) return;
    this.#view.button.disabled = true;
    let failure: string | undefined;
    try {
      if (this.#status === 'subscribed') await push.unsubscribe();
      else await push.subscribe();
    } catch (err) {
      failure = `Could not change notifications: ${err instanceof Error ? err.message : String(err)}`;
    }
    await this.refresh();
    // A refusal at the browser's prompt is the user's answer, shown as the blocked note.
    this.#view.onError(this.#status === 'denied' ? undefined : failure);
  }

  /** `null`: no push to drive (the control is off). */
  #show(status: PushStatus | null): void {
    const { button, note } = this.#view;
    this.#status = status ?? 'unsupported';
    const label = LABELS[this.#status];
    const denied = status === 'denied';
    button.hidden = status === null || status === 'unsupported' || status === 'disabled' || (denied && note !== undefined);
    button.textContent = label.text;
    button.title = label.title;
    button.disabled = denied;
    button.dataset.status = status ?? 'off';
    if (note) {
      note.textContent = denied ? PUSH_BLOCKED_TEXT : '';
      note.hidden = !denied;
    }
    this.#view.onShow?.(this.#status);
  }
}
