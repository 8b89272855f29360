import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from './config.js';
import { makeDataDir } from './data-dir.js';
import { isPostgresUrl, sqlitePath } from './store/open-store.js';

/** Where the embedded default keeps its generated secret: beside the SQLite file. */
export function devSecretPath(databaseUrl: string): string {
  const dir = isPostgresUrl(databaseUrl) || sqlitePath(databaseUrl) === ':memory:' ? resolve('data') : dirname(resolve(sqlitePath(databaseUrl)));
  return join(dir, 'herald-dev-secret');
}

/**
 * Reads the development secret, creating it (0600, in a 0700 folder) on first use so tokens
 * survive restarts. A file others can read is refused (anyone who reads it mints tokens for
 * any user), and so is an empty one (it would quietly refuse every token).
 */
export function loadOrCreateDevSecret(databaseUrl: string): string {
  const path = devSecretPath(databaseUrl);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    makeDataDir(dirname(path));
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`${path} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it, or delete it to generate a new development secret`);
  }
  const secret = readFileSync(path, 'utf8').trim();
  if (secret === '') throw new ConfigError(`${path} is empty: delete it to generate a new development secret`);
  return secret;
}

/**
 * Reads the development secret a development server created, without creating one: a
 * command that only mints tokens must not leave a signing secret wherever it runs.
 */
export function readDevSecret(databaseUrl: string): string {
  const path = devSecretPath(databaseUrl);
  try {
    statSync(path);
  } catch {
    throw new ConfigError(`no development secret at ${path}: start the development server once (herald serve creates it there), or set HERALD_JWT_SECRET`);
  }
  return loadOrCreateDevSecret(databaseUrl);
}
