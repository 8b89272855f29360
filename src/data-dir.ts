import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './config.js';

/**
 * Creates the folder that holds the SQLite file (and the development secret), 0700, one
 * missing level at a time. Node's recursive mkdir can loop forever where the filesystem
 * refuses it (`/proc/nope`): here the first refusal stops the start with one line.
 */
export function makeDataDir(dir: string): void {
  const missing: string[] = [];
  for (let current = resolve(dir); !existsSync(current); current = dirname(current)) {
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`cannot create the data folder ${level} (${code}): set HERALD_DATABASE_URL to a file in a folder Herald can write`);
    }
  }
}
