import { mutes } from '../../client/src/index.js';

export interface PreferencesActions {
  /** Fetches the muted types (the panel shows them when it opens). */
  load(): Promise<readonly string[]>;
  /** Stores the whole new list of muted types. */
  save(mutedTypes: string[]): Promise<void>;
}

/**
 * The preferences panel: one mute switch per type the page has seen (and per muted entry),
 * plus a field for a type or `prefix.*` not seen yet. Every change stores the whole list;
 * the server's `preferences.updated` then updates every tab.
 */
export class PreferencesPanel {
  readonly #panel = document.getElementById('preferences') as HTMLDetailsElement;
  readonly #list = document.getElementById('types') as HTMLUListElement;
  readonly #none = document.getElementById('no-types') as HTMLElement;
  readonly #form = document.getElementById('mute-form') as HTMLFormElement;
  readonly #entry = document.getElementById('mute-entry') as HTMLInputElement;
  readonly #error = document.getElementById('preferences-error') as HTMLElement;
  readonly #seen = new Set<string>();
  readonly #actions: PreferencesActions;
  #muted: readonly string[] = [];

  constructor(actions: PreferencesActions) {
    this.#actions = actions;
    this.#panel.addEventListener('toggle', () => {
      if (this.#panel.open) void this.#run(async () => this.show(await actions.load()));
    });
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      const entry = this.#entry.value.trim();
      if (!entry) return;
      void this.#run(async () => {
        if (!this.#muted.includes(entry)) await actions.save([...this.#muted, entry]);
        this.#entry.value = '';
      });
    });
  }

  /** Types of notifications the page has shown; each gets a switch. */
  noteTypes(types: Iterable<string>): void {
    const before = this.#seen.size;
    for (const type of types) this.#seen.add(type);
    if (this.#seen.size !== before) this.#draw();
  }

  /** The muted types as the server has them now. */
  show(mutedTypes: readonly string[]): void {
    this.#muted = [...mutedTypes];
    this.#draw();
  }

  #draw(): void {
    const entries = [...new Set([...this.#seen, ...this.#muted])].sort();
    const focused = (document.activeElement as HTMLElement | null)?.dataset.type;
    this.#list.replaceChildren(
      ...entries.map((entry) => {
        const row = document.createElement('li');
        const id = `mute-${entry.replace(/[^a-z0-9-]/gi, '_')}`;
        const box = document.createElement('input');
        box.type = 'checkbox';
        box.id = id;
        box.dataset.testid = 'mute-type';
        box.dataset.type = entry;
        box.checked = this.#muted.includes(entry);
        // A type muted through a `prefix.*` entry shows as muted but is switched through the prefix.
        const byPrefix = !box.checked && this.#muted.some((pattern) => pattern !== entry && mutes(pattern, entry));
        if (byPrefix) {
          box.checked = true;
          box.disabled = true;
        }
        box.addEventListener('change', () => {
          const next = box.checked ? [...this.#muted, entry] : this.#muted.filter((muted) => muted !== entry);
          void this.#run(() => this.#actions.save(next));
        });
        const label = document.createElement('label');
        label.htmlFor = id;
        label.textContent = byPrefix ? `Mute ${entry} (muted by a prefix)` : `Mute ${entry}`;
        row.append(box, label);
        return row;
      }),
    );
    this.#none.hidden = entries.length > 0;
    if (focused) this.#list.querySelector<HTMLElement>(`[data-type="${CSS.escape(focused)}"]`)?.focus();
  }

  async #run(work: () => Promise<void>): Promise<void> {
    this.#list.setAttribute('aria-busy', 'true');
    try {
      await work();
      this.#error.hidden = true;
    } catch (err) {
      this.#error.textContent = `Could not change the preferences: ${err instanceof Error ? err.message : String(err)}`;
      this.#error.hidden = false;
    } finally {
      this.#list.removeAttribute('aria-busy');
    }
  }
}
