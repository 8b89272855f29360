// The SQLite publish path: a batch of publishes in one transaction on the writer's
// connection, run synchronously with statements prepared once (sqlite-statements.ts).
// SQLite has one writer, so each topic's sequence follows commit order by construction.
import type { BatchWriter, Outcome } from './group-commit.js';
import type { SqliteDatabase, SqliteStatement } from './node-sqlite.js';
import {
  countByTopic, keyClaims, keyPlans, keyResponses, mutingQuestion, outcomesOf, planPublish, pushesOfPublishes, replayIds, takeSequences, takenKeys, topicsOf, writtenRows,
  type PushQueueing,
} from './publish-plan.js';
import { SqliteStatements } from './sqlite-statements.js';
import type { PublishRequest, PublishResult } from './store.js';

export class SqlitePublishWriter implements BatchWriter<PublishRequest, PublishResult> {
  readonly #sqlite: SqliteDatabase;
  readonly #statements: SqliteStatements;
  #transaction: { begin: SqliteStatement; commit: SqliteStatement; rollback: SqliteStatement } | null = null;
  /**
   * `exclusive` runs a function while no other query holds the connection (Kysely's
   * reads and transactions share it), so a batch never lands inside someone's transaction.
   */
  readonly #exclusive: <T>(fn: () => T) => Promise<T>;
  readonly #push: PushQueueing | null;

  /** `push`: how new notifications feed the push queue (null: push is off). */
  constructor(sqlite: SqliteDatabase, statements: SqliteStatements, exclusive: <T>(fn: () => T) => Promise<T>, push: PushQueueing | null = null) {
    this.#sqlite = sqlite;
    this.#statements = statements;
    this.#exclusive = exclusive;
    this.#push = push;
  }

  write(requests: readonly PublishRequest[]): Promise<Outcome<PublishResult>[]> {
    return this.#exclusive(() => {
      const t = (this.#transaction ??= {
        // IMMEDIATE takes the write lock up front, so another process (a CLI migrate) makes
        // this wait at BEGIN rather than fail at the first write.
        begin: this.#sqlite.prepare('begin immediate'),
        commit: this.#sqlite.prepare('commit'),
        rollback: this.#sqlite.prepare('rollback'),
      });
      t.begin.run([]);
      try {
        const outcomes = publishBatch(this.#statements, requests, new Date().toISOString(), this.#push);
        t.commit.run([]);
        return outcomes;
      } catch (err) {
        // Some errors (a full disk) already ended the transaction; nothing is left to undo.
        try {
          t.rollback.run([]);
        } catch {
          // no transaction was open
        }
        throw err;
      }
    });
  }
}

/** The batch's statements in the order pg-writer.ts runs them, synchronously. */
function publishBatch(s: SqliteStatements, requests: readonly PublishRequest[], now: string, push: PushQueueing | null): Outcome<PublishResult>[] {
  const claims = keyClaims(requests);
  const claimed = s.claimKeys(claims, now);
  const plans = keyPlans(requests, claimed, s.readKeys(takenKeys(claims, claimed)));
  const muted = s.usersMuting(requests.map((request, i) => (plans[i]?.kind === 'write' ? mutingQuestion(request) : null)));
  const publishes = requests.map((request, i) => (plans[i]?.kind === 'write' ? planPublish(request, muted[i] as Set<string>, now) : null));
  const topics = topicsOf(publishes);
  const { rows, results } = writtenRows(publishes, takeSequences(topics, s.advanceHeads(countByTopic(topics))));
  s.insertNotifications(rows);
  s.enqueuePushes(pushesOfPublishes(publishes, now, push));
  s.storeResponses(keyResponses(requests, results));
  return outcomesOf(plans, results, s.notificationsByIds(replayIds(plans)));
}
