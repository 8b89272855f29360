// A user's changes to their own inbox (read, archive, snooze, read-all, muted types): stored,
// then told to the user's streams on every node with one bus hint, as the publisher tells
// them of new notifications. The routes only parse and answer.
import type { Logger } from 'pino';
import { audienceOf, type Principal } from '../auth/principal.js';
import { inboxUpdate, type Bus, type UpdatePayload } from '../bus/bus.js';
import type { Notification, NotificationStore, StateChange } from '../store/store.js';

export class InboxService {
  readonly #store: NotificationStore;
  readonly #bus: Bus;
  readonly #log: Pick<Logger, 'warn'>;

  constructor(store: NotificationStore, bus: Bus, log: Pick<Logger, 'warn'>) {
    this.#store = store;
    this.#bus = bus;
    this.#log = log;
  }

  /** Changes one notification's state; null when it is not in the user's inbox. Answers the new count. */
  async update(principal: Principal, id: string, change: StateChange): Promise<{ notification: Notification; unread: number } | null> {
    const notification = await this.#store.updateState(audienceOf(principal), id, change);
    if (!notification) return null;
    const unread = await this.#announce(principal, inboxUpdate({
      ids: [id], status: change.status ?? null, archived: change.archived ?? null, seen: change.seen ?? null,
      ...(change.snoozedUntil === undefined ? {} : { snoozed_until: notification.snoozed_until }),
      notification,
    }));
    return { notification, unread };
  }

  /** Marks every visible notification read or seen (up to one id); answers how many changed and the new count. */
  async markAll(principal: Principal, what: 'read' | 'seen', upToId: string | null): Promise<{ updated: number; unread: number }> {
    const updated = await this.#store.markAll(audienceOf(principal), what, upToId);
    const unread = await this.#announce(principal, inboxUpdate({ status: what === 'read' ? 'read' : null, seen: true, all: true }));
    return { updated, unread };
  }

  /** Replaces the user's muted types; their streams re-read them with the count (`preferences.updated`). */
  async setMutedTypes(principal: Principal, mutedTypes: readonly string[]): Promise<void> {
    await this.#store.setMutedTypes(principal.sub, mutedTypes);
    await this.#bus.publish({ kind: 'updated', user: principal.sub, update: inboxUpdate(), preferences: true })
      .catch((err: unknown) => this.#log.warn({ err }, 'could not announce a change of preferences'));
  }

  /** Tells the user's streams (on every node) what changed; answers the count the request's answer carries. */
  async #announce(principal: Principal, update: UpdatePayload): Promise<number> {
    const { unread } = await this.#store.unreadSnapshot(audienceOf(principal));
    await this.#bus.publish({ kind: 'updated', user: principal.sub, update })
      .catch((err: unknown) => this.#log.warn({ err }, 'could not announce an inbox change'));
    return unread;
  }
}
