// A user's muted notification types. An entry is a type (`promo`) or a prefix ending in
// `.*` (`social.*` mutes `social.like` and `social.follow.new`, not `social` itself).
import { HeraldError } from '../errors.js';

/** Entries one user may mute at most (after duplicates collapse). */
export const MAX_MUTES = 100;

/** A type (as publishes name them) or `<prefix>.*` where `<prefix>.x` would be a type. */
export const MUTE_PATTERN = '^[a-z0-9][a-z0-9._-]{0,63}$|^[a-z0-9][a-z0-9._-]{0,61}\\.\\*$';

const TYPE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const PREFIX = /^[a-z0-9][a-z0-9._-]{0,61}\.\*$/;

/** One entry as the store keeps it: the entry itself, and its prefix (`social.`) when it is one. */
export interface MuteEntry {
  pattern: string;
  prefix: string | null;
}

export function isMutePattern(entry: string): boolean {
  return TYPE.test(entry) || PREFIX.test(entry);
}

export function toMuteEntry(pattern: string): MuteEntry {
  return { pattern, prefix: pattern.endsWith('.*') ? pattern.slice(0, -1) : null };
}

/**
 * Checks a `muted_types` list and answers it as stored: duplicates collapsed, sorted (so
 * the answer to a PUT equals what a GET returns later). HeraldError on bad input.
 */
export function normalizeMutes(entries: readonly unknown[]): string[] {
  const bad = entries.find((entry) => typeof entry !== 'string' || !isMutePattern(entry));
  if (bad !== undefined) {
    throw new HeraldError('invalid_mute_pattern',
      `${JSON.stringify(bad)} is not a notification type (e.g. "promo") or a prefix ending in ".*" (e.g. "social.*").`);
  }
  const unique = [...new Set(entries as string[])].sort();
  if (unique.length > MAX_MUTES) {
    throw new HeraldError('too_many_mutes', `At most ${MAX_MUTES} muted types; got ${unique.length}. Mute a prefix ("social.*") instead of its types.`);
  }
  return unique;
}

/**
 * The entries that would mute `type`: the type itself and each `<prefix>.*` ending at one
 * of its dots. A store looks these up by key instead of matching every entry against it.
 */
export function patternsMuting(type: string): string[] {
  const patterns = [type];
  for (let i = type.indexOf('.'); i !== -1; i = type.indexOf('.', i + 1)) patterns.push(`${type.slice(0, i + 1)}*`);
  return patterns;
}

/** Answers whether one user's entries mute a type; built once per change of preferences. */
export class MuteMatcher {
  readonly #types: ReadonlySet<string>;
  readonly #prefixes: readonly string[];

  constructor(entries: readonly string[]) {
    this.#types = new Set(entries.filter((entry) => !entry.endsWith('.*')));
    this.#prefixes = entries.flatMap((entry) => (entry.endsWith('.*') ? [entry.slice(0, -1)] : []));
  }

  mutes(type: string): boolean {
    if (this.#types.has(type)) return true;
    for (const prefix of this.#prefixes) if (type.startsWith(prefix)) return true;
    return false;
  }
}

/** A matcher for these entries, or null for none: the fan-out then pays one null check. */
export function muteMatcher(entries: readonly string[]): MuteMatcher | null {
  return entries.length === 0 ? null : new MuteMatcher(entries);
}
