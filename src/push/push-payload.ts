// What a push carries: a Declarative Web Push message (the browser shows it without a
// service worker where it supports them; Herald's worker shows the same fields elsewhere).
import type { Notification } from '../domain/notification.js';

/** The largest plaintext sent: what every push service takes after encryption (4096-byte records). */
export const MAX_PAYLOAD_BYTES = 3800;

/** Shown when a notification has no title: declarative pushes need one. */
const DEFAULT_TITLE = 'New notification';

export interface PushPayload {
  web_push: 8030;
  notification: {
    title: string;
    body: string;
    navigate: string;
    tag: string;
    app_badge: number;
    data: { id: string; type: string; read_token: string };
  };
}

export interface PayloadInput {
  notification: Pick<Notification, 'id' | 'type' | 'title' | 'content' | 'data'>;
  unreadCount: number;
  readToken: string;
  /** Opened on click when the notification's data.url is not an https URL. */
  inboxUrl: string;
}

/** `data.url` when it is an https URL, else the inbox page. */
export function navigateTo(data: Record<string, unknown> | null, inboxUrl: string): string {
  const url = data?.url;
  if (typeof url !== 'string') return inboxUrl;
  try {
    return new URL(url).protocol === 'https:' ? url : inboxUrl;
  } catch {
    return inboxUrl;
  }
}

/**
 * The JSON text of the push, at most MAX_PAYLOAD_BYTES: a long body is cut (with an
 * ellipsis), then a long title; the JSON itself is never cut.
 */
export function pushPayload(input: PayloadInput): string {
  const { notification } = input;
  const build = (title: string, body: string, navigate: string): string => JSON.stringify({
    web_push: 8030,
    notification: {
      title, body, navigate, tag: notification.id, app_badge: input.unreadCount,
      data: { id: notification.id, type: notification.type, read_token: input.readToken },
    },
  } satisfies PushPayload);
  const title = notification.title || DEFAULT_TITLE;
  let navigate = navigateTo(notification.data, input.inboxUrl);
  const fits = (text: string) => Buffer.byteLength(text) <= MAX_PAYLOAD_BYTES;
  const whole = build(title, notification.content, navigate);
  if (fits(whole)) return whole;
  // A URL too long to leave room for the text goes: the inbox page opens instead.
  if (!fits(build(cut(title, 0), '', navigate))) navigate = input.inboxUrl;
  const body = longestFitting(notification.content, (b) => fits(build(title, b, navigate)));
  if (body !== null) return build(title, body, navigate);
  const shortTitle = longestFitting(title, (t) => fits(build(t, '', navigate)));
  return build(shortTitle ?? '', '', navigate);
}

/** `text` cut to `chars` code points, with an ellipsis when anything was cut. */
function cut(text: string, chars: number): string {
  const points = [...text];
  return points.length <= chars ? text : `${points.slice(0, chars).join('')}…`;
}

/** The longest cut of `text` that `fits`, by binary search over code points; null when not even an empty one does. */
function longestFitting(text: string, fits: (candidate: string) => boolean): string | null {
  const length = [...text].length;
  if (!fits(cut(text, 0))) return null;
  let low = 0;
  let high = length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(cut(text, mid))) low = mid;
    else high = mid - 1;
  }
  return cut(text, low);
}
