// What <herald-inbox> draws from a notification's `data` besides its text: up to two action
// buttons and an avatar. The publisher writes `data`, the host page shows it: every address is
// checked here and anything doubtful is left out rather than drawn.
import type { HeraldNotification } from '../types.js';
import { safeHttpsHref } from './safe-href.js';

/** At most this many actions are drawn: a popover row has room for two buttons. */
export const MAX_ACTIONS = 2;

/** An action as the element draws it: a link (`href`, checked) or a button that fires `herald-action` (`event`). */
export type NotificationAction = { label: string; href: string; event?: undefined } | { label: string; event: string; href?: undefined };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The drawable actions among the first `MAX_ACTIONS` entries of `data.actions`: each needs a
 * `label`, and either a `url` that is a safe https URL (within `allowedOrigins` when the host
 * set them) or an `event` name. An entry whose `url` fails the check is dropped whole, even
 * with an `event`: a doubtful link never turns into something clickable.
 */
export function actionsOf(notification: HeraldNotification, pageUrl: string, allowedOrigins: readonly string[] | null): NotificationAction[] {
  const entries = notification.data?.actions;
  if (!Array.isArray(entries)) return [];
  const actions: NotificationAction[] = [];
  for (const entry of entries.slice(0, MAX_ACTIONS)) {
    if (!isRecord(entry) || typeof entry.label !== 'string' || entry.label.trim() === '') continue;
    const label = entry.label.trim();
    if (entry.url !== undefined) {
      const href = safeHttpsHref(entry.url, pageUrl, allowedOrigins);
      if (href !== undefined) actions.push({ label, href });
    } else if (typeof entry.event === 'string' && entry.event !== '') {
      actions.push({ label, event: entry.event });
    }
  }
  return actions;
}

/** `data.avatar` when it is a safe https URL, else undefined (no image at all). */
export function avatarOf(notification: HeraldNotification, pageUrl: string): string | undefined {
  return safeHttpsHref(notification.data?.avatar, pageUrl, null);
}
