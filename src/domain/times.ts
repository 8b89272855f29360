// Times in requests: RFC 3339 with an explicit offset, stored as ISO-8601 UTC text of one
// length (`toISOString()`), so both databases order and compare them as text.
import { HeraldError } from '../errors.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** How far ahead a delivery or a snooze may be set. */
export const MAX_AHEAD_MS = 366 * 24 * 3600 * 1000;

/**
 * Parses an RFC 3339 date-time into epoch ms; HeraldError('invalid_time') naming `field`
 * otherwise. Date.parse alone accepts other shapes and rolls 2026-02-30 over into March.
 */
export function parseRfc3339(value: unknown, field: string): number {
  const fail = () => new HeraldError('invalid_time', `${field} must be an RFC 3339 date-time with an offset, e.g. "2026-12-01T09:00:00Z".`);
  if (typeof value !== 'string') throw fail();
  const m = RFC3339.exec(value);
  if (!m) throw fail();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetH = m[9] === undefined ? 0 : Number(m[9]);
  const offsetM = m[10] === undefined ? 0 : Number(m[10]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  // RFC 3339 allows second 60 (a leap second); JavaScript time has none, so it is refused.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59 || offsetH > 23 || offsetM > 59) throw fail();
  const ms = Date.parse(value.replace(' ', 'T'));
  if (!Number.isFinite(ms)) throw fail();
  return ms;
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
