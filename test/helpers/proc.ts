// A child process for tests that run documented commands: output captured, its whole
// process group killed at the end (a `bash -c` command line starts grandchildren).
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';

export interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code (or null when killed by a signal) once the process has ended. */
  exited: Promise<number | null>;
  /** Sends `signal` to the process only (not its group), e.g. SIGINT as Ctrl-C would. */
  signal(signal: NodeJS.Signals): void;
}

export function startProc(t: TestContext, command: string, args: string[], options: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}): Proc {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env as NodeJS.ProcessEnv, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString(); });
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => { ended = true; });
  t.after(async () => {
    // The whole group: grandchildren may outlive a leader that already exited.
    try {
      process.kill(-(child.pid ?? 0), 'SIGKILL');
    } catch {
      // already gone
    }
    if (!ended) await exited;
  });
  return { child, stdout: () => out, stderr: () => err, exited, signal: (signal) => child.kill(signal) };
}
