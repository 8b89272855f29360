// Which users muted a notification type: asked when a publish is written and again when a
// scheduled one is delivered (a mute set in between counts), on either database, by the
// publish statements' own lookup (sqlite-statements.ts, pg-statements.ts).
import { CompiledQuery, sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { patternsMuting } from '../domain/preferences.js';
import type { Dialect } from './migrations.js';
import { kyselyPgStatements } from './pg-statements.js';
import type { Database } from './schema.js';
import { SQLITE_USERS_MUTING } from './sqlite-statements.js';

/** The users among `users` whose muted types include `type` (by name or by a pattern that covers it). */
export async function usersMutingIn(db: Kysely<Database>, dialect: Dialect, users: readonly string[], type: string): Promise<Set<string>> {
  if (users.length === 0) return new Set();
  const question = { users, patterns: patternsMuting(type) };
  if (dialect === 'postgres') return (await kyselyPgStatements(db).usersMuting([question]))[0] as Set<string>;
  const { rows } = await db.executeQuery<{ user_id: string }>(CompiledQuery.raw(SQLITE_USERS_MUTING, [JSON.stringify(users), JSON.stringify(question.patterns)]));
  return new Set(rows.map((row) => row.user_id));
}

/**
 * Leaves out topic notifications (no recipient) of a type the reader muted, unless they
 * were critical; a private one of a muted type was never stored. Prefixes are compared
 * with substr/length rather than LIKE, whose `_` and `%` would match as wildcards.
 */
export function notMutedBy(user: string): RawBuilder<SqlBool> {
  return sql<SqlBool>`not (n.recipient is null and n.critical = 0 and exists (
    select 1 from muted_types m where m.user_id = ${user}
      and (m.pattern = n.type or (m.prefix is not null and substr(n.type, 1, length(m.prefix)) = m.prefix))))`;
}
