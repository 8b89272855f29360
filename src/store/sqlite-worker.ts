// The SQLite publish writer's thread: its own connection to the database file, so a
// batch's commit and fsync block this thread and never the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteHandle } from './sqlite-handle.js';
import { encodeOutcomes, encodeError, type WriterRequest } from './sqlite-thread-writer.js';
import { SqlitePublishWriter } from './sqlite-writer.js';

const { path, synchronous } = workerData as { path: string; synchronous: 'full' | 'normal' };
const port = parentPort as NonNullable<typeof parentPort>;
const sqlite = await openSqliteHandle(path, synchronous);
const writer = new SqlitePublishWriter(sqlite, async (fn) => fn());

port.on('message', (message: WriterRequest) => {
  if (message.kind === 'close') {
    sqlite.close();
    port.close();
    return;
  }
  // Batches come one at a time (the group commit waits for each answer), so writes never overlap.
  writer.write(message.requests).then(
    (outcomes) => port.postMessage({ id: message.id, outcomes: encodeOutcomes(outcomes) }),
    (err: unknown) => port.postMessage({ id: message.id, error: encodeError(err) }),
  );
});
