// Shared by the inbox page (web/) and <herald-inbox>: one wording of time for both.
/**
 * "3 min ago" for the list: people scan an inbox by recency, not by clock time. The
 * absolute time goes in the element's title; `refreshRelativeTimes` keeps the text true
 * as the page stays open.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** How long ago `iso` was, seen at `now` (ms since the epoch). */
export function timeAgo(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const ago = Math.max(0, now - at);
  if (ago < MINUTE) return 'just now';
  if (ago < HOUR) return `${Math.floor(ago / MINUTE)} min ago`;
  if (ago < DAY) return `${Math.floor(ago / HOUR)} h ago`;
  if (ago < 2 * DAY) return 'yesterday';
  if (ago < 7 * DAY) return `${Math.floor(ago / DAY)} days ago`;
  return new Date(at).toLocaleDateString();
}

/** The full local date and time, for a title. */
export function absoluteTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** A `<time>` showing how long ago `iso` was, with the absolute time as its title. */
export function relativeTimeElement(iso: string, now: number): HTMLTimeElement {
  const element = document.createElement('time');
  element.dateTime = iso;
  element.dataset.relative = '';
  element.title = absoluteTime(iso);
  element.textContent = timeAgo(iso, now);
  return element;
}

/** Rewrites every relative time under `root`; the page calls it once a minute. */
export function refreshRelativeTimes(root: ParentNode, now: number): void {
  for (const element of root.querySelectorAll<HTMLTimeElement>('time[data-relative]')) {
    element.textContent = timeAgo(element.dateTime, now);
  }
}
