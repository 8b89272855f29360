import { audienceFor, isValidGroupName, type Audience } from '../domain/topics.js';

export type Scope = 'subscribe' | 'publish' | 'admin';

/** The verified caller: who, what they may do, which topics they may read, until when. */
export interface Principal {
  sub: string;
  scopes: ReadonlySet<Scope>;
  groups: readonly string[];
  /** Token expiry, seconds since epoch. */
  exp: number;
}

export function audienceOf(principal: Principal): Audience {
  return audienceFor(principal.sub, principal.groups);
}

/** `scope` claim: space-separated; `subscribe` when absent. Unknown scopes are ignored. */
export function parseScopes(claim: unknown): Set<Scope> {
  if (claim === undefined) return new Set(['subscribe']);
  const words = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
  return new Set(words.filter((w): w is Scope => w === 'subscribe' || w === 'publish' || w === 'admin'));
}

/** `groups` claim: names that are not valid group names are dropped, not trusted. */
export function parseGroups(claim: unknown): string[] {
  if (!Array.isArray(claim)) return [];
  return [...new Set(claim.filter((g): g is string => typeof g === 'string' && isValidGroupName(g)))].slice(0, 100);
}

// A user id becomes part of topic names, cursors and logs: printable, bounded.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const USER_ID = /^[^\s\0-\x1f\x7f]{1,256}$/u;

export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID.test(value);
}
