import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isPostgresUrl, sqlitePath } from './store/open-store.js';

/** Where the embedded default keeps its generated secret: beside the SQLite file. */
export function devSecretPath(databaseUrl: string): string {
  const dir = isPostgresUrl(databaseUrl) || sqlitePath(databaseUrl) === ':memory:' ? resolve('data') : dirname(resolve(sqlitePath(databaseUrl)));
  return join(dir, 'herald-dev-secret');
}

/** Reads the development secret, creating it (0600) on first use so tokens survive restarts. */
export function loadOrCreateDevSecret(databaseUrl: string): string {
  const path = devSecretPath(databaseUrl);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    mkdirSync(dirname(path), { recursive: true });
    const secret = randomBytes(32).toString('base64url');
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  }
}
