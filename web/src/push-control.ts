import type { HeraldPush, PushStatus } from '../../client/src/index.js';

/** What the button says in each state, and whether it can be pressed. */
const LABELS: Record<PushStatus, { text: string; pressed: boolean; disabled: boolean; title: string }> = {
  unsupported: { text: '', pressed: false, disabled: true, title: '' },
  disabled: { text: '', pressed: false, disabled: true, title: '' },
  denied: { text: 'Notifications blocked', pressed: false, disabled: true, title: 'Notifications are blocked for this site in the browser\'s settings.' },
  unsubscribed: { text: 'Enable notifications', pressed: false, disabled: false, title: 'Get a notification when you are away from this page.' },
  subscribed: { text: 'Notifications on', pressed: true, disabled: false, title: 'You get a notification when you are away from this page. Press to turn them off.' },
};

/**
 * The "Enable notifications" switch: Web Push for this browser, shown only where the browser
 * supports it and the server has push on. A press subscribes (the browser asks the user's
 * permission) or unsubscribes.
 */
export class PushControl {
  readonly #button = document.getElementById('push-toggle') as HTMLButtonElement;
  readonly #push: HeraldPush;
  readonly #onError: (message: string | undefined) => void;
  #status: PushStatus = 'unsupported';

  constructor(push: HeraldPush, onError: (message: string | undefined) => void) {
    this.#push = push;
    this.#onError = onError;
    this.#button.addEventListener('click', () => void this.#toggle());
  }

  async refresh(): Promise<void> {
    this.#show(await this.#push.status().catch((): PushStatus => 'unsupported'));
  }

  async #toggle(): Promise<void> {
    this.#button.disabled = true;
    try {
      if (this.#status === 'subscribed') await this.#push.unsubscribe();
      else await this.#push.subscribe();
      this.#onError(undefined);
    } catch (err) {
      this.#onError(`Could not change notifications: ${err instanceof Error ? err.message : String(err)}`);
    }
    await this.refresh();
  }

  #show(status: PushStatus): void {
    this.#status = status;
    const label = LABELS[status];
    this.#button.hidden = status === 'unsupported' || status === 'disabled';
    this.#button.textContent = label.text;
    this.#button.title = label.title;
    this.#button.disabled = label.disabled;
    this.#button.setAttribute('aria-pressed', String(label.pressed));
    this.#button.dataset.status = status;
  }
}
