// Loaded into a Herald server by bench/ingest-store.ts (NODE_OPTIONS=--import, where
// --cpu-prof is not allowed): profiles the whole process and writes the profile to
// BENCH_CPU_PROF_DIR when it exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  // A session in the same thread answers synchronously, so this completes inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `herald-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
