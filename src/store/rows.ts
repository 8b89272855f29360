import type { Selectable } from 'kysely';
import { userTopic } from '../domain/topics.js';
import type { Database } from './schema.js';
import type { Notification, PublishRequest } from './store.js';

export type NotificationRow = Selectable<Database['notifications']>;
/** A notification row as written: every column but the table's own `pk`. */
export type StoredNotification = Omit<NotificationRow, 'pk'>;

/**
 * The columns every insert into notifications writes, in this order; each dialect's insert
 * statements are generated from this list (sqlite-statements.ts, pg-statements.ts), so a
 * new column is added here. `perRow` columns differ between the rows of one publish; the
 * others are the publish's content, sent to the database once per publish however many
 * recipients share it. `pg` is the column's PostgreSQL array element type.
 */
export const NOTIFICATION_COLUMNS = [
  { name: 'id', perRow: true, pg: 'text' },
  { name: 'topic', perRow: true, pg: 'text' },
  { name: 'seq', perRow: true, pg: 'int8' },
  { name: 'recipient', perRow: true, pg: 'text' },
  { name: 'type', perRow: false, pg: 'text' },
  { name: 'title', perRow: false, pg: 'text' },
  { name: 'content', perRow: false, pg: 'text' },
  { name: 'data', perRow: false, pg: 'text' },
  { name: 'publisher', perRow: false, pg: 'text' },
  { name: 'created_at', perRow: false, pg: 'text' },
  { name: 'critical', perRow: false, pg: 'int4' },
  { name: 'expires_at', perRow: false, pg: 'text' },
] as const satisfies ReadonlyArray<{ name: keyof StoredNotification; perRow: boolean; pg: string }>;

// A column of the table that the list leaves out fails to compile here.
type Unlisted = Exclude<keyof StoredNotification, (typeof NOTIFICATION_COLUMNS)[number]['name']>;
const _everyColumnListed: [Unlisted] extends [never] ? true : Unlisted = true;

export const ROW_COLUMNS = NOTIFICATION_COLUMNS.filter((c) => c.perRow);
export const PUBLISH_COLUMNS = NOTIFICATION_COLUMNS.filter((c) => !c.perRow);

/** A row's values for the per-row columns, in ROW_COLUMNS order. */
export function rowValues(row: StoredNotification): unknown[] {
  return ROW_COLUMNS.map((c) => row[c.name]);
}

/** A row's values for the publish's columns, in PUBLISH_COLUMNS order. */
export function publishValues(row: StoredNotification): unknown[] {
  return PUBLISH_COLUMNS.map((c) => row[c.name]);
}

/** Whether two rows share their publish's columns, so one copy of them serves both. */
export function samePublish(a: StoredNotification, b: StoredNotification): boolean {
  return PUBLISH_COLUMNS.every((c) => a[c.name] === b[c.name]);
}

/** Splits rows into runs of consecutive rows that share their publish's columns, order kept. */
export function runsOfPublish(rows: readonly StoredNotification[]): StoredNotification[][] {
  const runs: StoredNotification[][] = [];
  let run: StoredNotification[] = [];
  for (const row of rows) {
    if (run.length > 0 && !samePublish(run[0] as StoredNotification, row)) {
      runs.push(run);
      run = [];
    }
    run.push(row);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
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
