// A notification as readers see it, and its place in a topic: what the store keeps, the bus
// carries and the stream sends, so none of them depends on another for it.

export type NotificationStatus = 'unread' | 'read';

/** A notification as the API and the stream show it to one user (snake_case on the wire). */
export interface Notification {
  id: string;
  recipient: string | null;
  topic: string | null;
  type: string;
  title: string | null;
  content: string;
  data: Record<string, unknown> | null;
  status: NotificationStatus;
  seen_at: string | null;
  read_at: string | null;
  archived_at: string | null;
  created_at: string;
  /** After this time it is no longer listed, counted or replayed; null: never. */
  expires_at: string | null;
  /** This reader snoozed it until then (hidden from the default list and the count); null: not snoozed. */
  snoozed_until: string | null;
}

/** A stored notification at its place in a topic's gap-free sequence. */
export interface TopicEvent {
  topic: string;
  seq: number;
  notification: Notification;
  /** True when published critical: readers who muted its type still get it. Absent means false. */
  critical?: boolean;
}
