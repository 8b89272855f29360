// The SQLite writer's thread: its own connection to the database file, so waiting for the
// write lock and a commit's fsync block this thread and never the server's event loop.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteHandle } from './sqlite-handle.js';
import { sqliteKysely } from './sqlite-kysely.js';
import { encodeOutcomes, encodeError, type WriterAnswer, type WriterData, type WriterRequest } from './sqlite-thread-writer.js';
import { SqliteStatements } from './sqlite-statements.js';
import type { WriterHeap } from './store.js';
import { SqlitePublishWriter } from './sqlite-writer.js';
import { KyselyWrites } from './writes.js';

// A test's own spawner may leave `push` out: push is then off on this thread.
const { path, synchronous, push = null } = workerData as WriterData;
const port = parentPort as NonNullable<typeof parentPort>;
const sqlite = await openSqliteHandle(path, synchronous);
const db = sqliteKysely(sqlite);
// Publish batches hold Kysely's one connection while they run, so they never land inside
// another write's transaction.
const statements = new SqliteStatements(sqlite);
const writer = new SqlitePublishWriter(sqlite, statements, (fn) => db.connection().execute(async () => fn()), push);
// Scheduled delivery runs the same statements, inside its Kysely transaction on this connection.
const writes = new KyselyWrites(db, 'sqlite', () => statements, push);

function answer(id: number, work: Promise<Omit<WriterAnswer, 'id'>>): void {
  work.then(
    (result) => port.postMessage({ id, ...result }),
    (err: unknown) => port.postMessage({ id, error: encodeError(err) }),
  );
}

port.on('message', (message: WriterRequest) => {
  if (message.kind === 'close') {
    void db.destroy().finally(() => port.close());
    return;
  }
  if (message.kind === 'heap') {
    const heap = getHeapStatistics();
    port.postMessage({ id: message.id, value: { used: heap.used_heap_size, total: heap.total_heap_size } satisfies WriterHeap });
    return;
  }
  if (message.kind === 'write') {
    answer(message.id, writer.write(message.requests).then((outcomes) => ({ outcomes: encodeOutcomes(outcomes) })));
    return;
  }
  const method = writes[message.method] as (...args: unknown[]) => Promise<unknown>;
  answer(message.id, method.apply(writes, message.args).then((value) => ({ value })));
});
