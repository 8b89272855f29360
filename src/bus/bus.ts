// Fan-out between Herald nodes. Messages are hints: a node that misses, repeats or
// reorders them still delivers every event exactly once, because it reads gaps from the
// store (docs/architecture.md). The in-process bus serves the embedded default.
import type { Notification, TopicEvent } from '../domain/notification.js';

/** The `notification.updated` payload that other tabs of the user receive. */
export interface UpdatePayload {
  ids: string[];
  status: 'read' | 'unread' | null;
  archived: boolean | null;
  seen: boolean | null;
  all: boolean;
  /** A snooze: the new time (null: awake). Absent on changes that do not touch it. */
  snoozed_until?: string | null;
  notification: Notification | null;
}

/** An inbox change with nothing changed but what `change` names (the rest null or empty). */
export function inboxUpdate(change: Partial<UpdatePayload> = {}): UpdatePayload {
  return { ids: [], status: null, archived: null, seen: null, all: false, notification: null, ...change };
}

export type BusMessage =
  | { kind: 'notification'; event: TopicEvent }
  | {
      kind: 'updated';
      user: string;
      /**
       * Receiving nodes recount from the store (a hint may be late or out of order). The
       * count and heads that 0.1 nodes read from here are no longer sent: 0.2 nodes ignore
       * them, and versions more than one minor apart do not run side by side.
       */
      update: UpdatePayload;
      /**
       * The user changed their muted types: nodes re-read them with the count and send
       * `preferences.updated` instead of `update` (which only corrects the count, so a node
       * of the previous version still shows the right number).
       */
      preferences?: true;
    }
  /**
   * Retention deleted these notifications (one node purges for all): streams following
   * their topics recount and hear which left, as for an expiry. Lost ones are made good by
   * the recount after a reconnect (onResync).
   */
  | { kind: 'removed'; notifications: RemovedNotification[] };

/** A notification that is gone from its topic (retention deleted it). */
export interface RemovedNotification {
  id: string;
  topic: string;
}

export interface BusHandlers {
  onMessage(message: BusMessage): void;
  /** The bus may have lost messages (reconnect): re-read topic heads from the store. */
  onResync(): void;
}

export interface Bus {
  start(handlers: BusHandlers): Promise<void>;
  publish(message: BusMessage): Promise<void>;
  /** False while the broker is unreachable (readiness). */
  isReady(): boolean;
  /** True when no hint is ever lost (the in-process bus): positions passed on a hint need no second look. */
  readonly lossless?: boolean;
  close(): Promise<void>;
}
