import type { Selectable } from 'kysely';
import { userTopic } from '../domain/topics.js';
import type { Database } from './schema.js';
import type { Notification, PublishRequest } from './store.js';

export type NotificationRow = Selectable<Database['notifications']>;
export type ReceiptColumns = { read_at: string | null; seen_at: string | null; archived_at: string | null; snoozed_until?: string | null };

/** `now` (ISO) is when the reader looks: a snooze that ended by then shows as null. */
export function toNotification(row: Omit<NotificationRow, 'pk'>, state: ReceiptColumns | null, now?: string): Notification {
  const snoozed = state?.snoozed_until ?? null;
  return {
    id: row.id,
    recipient: row.recipient,
    topic: row.recipient === null ? row.topic : null,
    type: row.type,
    title: row.title,
    content: row.content,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    status: state?.read_at ? 'read' : 'unread',
    seen_at: state?.seen_at ?? null,
    read_at: state?.read_at ?? null,
    archived_at: state?.archived_at ?? null,
    created_at: row.created_at,
    expires_at: row.expires_at,
    snoozed_until: snoozed !== null && (now === undefined || snoozed > now) ? snoozed : null,
  };
}

/** Where a publish goes: one private topic per recipient, or the one shared topic. */
export function targetsOf(request: PublishRequest): Array<{ topic: string; recipient: string | null }> {
  return request.recipients
    ? request.recipients.map((recipient) => ({ topic: userTopic(recipient), recipient }))
    : [{ topic: request.topic as string, recipient: null }];
}

/** Rows a publish stores: what a batch's size is counted in. */
export function publishWeight(request: PublishRequest): number {
  return request.recipients?.length ?? 1;
}

/**
 * A just-written notification as the publisher sees it. The rows of one publish share one
 * `data` object (parsed once from what was stored, so it is exactly what a reader gets back).
 */
export function newNotification(
  id: string, recipient: string | null, topic: string, request: PublishRequest,
  data: Record<string, unknown> | null, createdAt: string,
): Notification {
  return {
    id,
    recipient,
    topic: recipient === null ? topic : null,
    type: request.type,
    title: request.title,
    content: request.content,
    data,
    status: 'unread',
    seen_at: null,
    read_at: null,
    archived_at: null,
    created_at: createdAt,
    expires_at: request.expiresAt ?? null,
    snoozed_until: null,
  };
}
