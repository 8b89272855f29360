// Pure SSE wire encoding (WHATWG HTML §9.2.6). Nothing here touches a socket.

export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  retry?: number;
}

// "event" and "id" values end at the first CR or LF, and an id containing NUL is ignored by
// browsers: such a value could inject fields, so it is refused rather than "cleaned".
const UNSAFE_FIELD = /[\r\n\0]/;

export class UnsafeFieldError extends Error {
  readonly type = 'unsafe_field';
}

function checkField(name: string, value: string): string {
  if (UNSAFE_FIELD.test(value)) throw new UnsafeFieldError(`SSE ${name} must not contain CR, LF or NUL`);
  return value;
}

/** Data lines: the spec ends a line at CRLF, LF or a lone CR, so split on all three. */
export function encodeData(data: string): string {
  return data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join('');
}

export function encodeEvent(event: SseEvent): string {
  let out = '';
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) throw new UnsafeFieldError('SSE retry must be a non-negative integer');
    out += `retry: ${event.retry}\n`;
  }
  if (event.event !== undefined) out += `event: ${checkField('event', event.event)}\n`;
  // An empty id resets the client's last event id: never send one.
  if (event.id !== undefined && event.id !== '') out += `id: ${checkField('id', event.id)}\n`;
  if (event.data !== undefined) out += encodeData(event.data);
  return `${out}\n`;
}

/** A comment line (heartbeat); comments never dispatch an event. */
export function encodeComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/**
 * A notification event split in two, so the notification is serialized once per event and
 * only the reader-specific tail (unread count, cursor) is built per connection:
 *   `event: notification\ndata: {...json` + `,"unread_count":N}\nid: <cursor>\n\n`
 * JSON.stringify escapes CR and LF, so the data stays on one line.
 */
export function notificationEventHead(eventName: string, payload: object): string {
  const json = JSON.stringify(payload);
  return `event: ${checkField('event', eventName)}\ndata: ${json.slice(0, -1)}`;
}

export function notificationEventTail(unreadCount: number, cursor: string | null): string {
  const id = cursor === null ? '' : `id: ${checkField('id', cursor)}\n`;
  return `,"unread_count":${unreadCount}}\n${id}\n`;
}
