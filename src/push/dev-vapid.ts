// Development mode's VAPID pair, kept beside the database like its JWT secret, so
// subscriptions made in one run still work after a restart.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../config.js';
import { makeDataDir } from '../data-dir.js';
import { devSecretPath } from '../dev-secret.js';
import { generateVapidKeys, vapidPairProblem, type VapidKeys } from './vapid-keys.js';

/** The subject development pushes carry: push services only need some contact to be given. */
export const DEV_VAPID_SUBJECT = 'mailto:herald-development@localhost.invalid';

export function devVapidPath(databaseUrl: string): string {
  return join(dirname(devSecretPath(databaseUrl)), 'herald-dev-vapid.json');
}

/**
 * Reads the development pair, creating it (0600, in a 0700 folder) on first use. A file
 * others can read is refused: whoever holds the private key can push to every subscriber.
 */
export function loadOrCreateDevVapidKeys(databaseUrl: string): VapidKeys {
  const path = devVapidPath(databaseUrl);
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    makeDataDir(dirname(path));
    const keys = generateVapidKeys();
    writeFileSync(path, `${JSON.stringify(keys)}\n`, { mode: 0o600, flag: 'wx' });
    return keys;
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`${path} is readable by others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it, or delete it to generate a new development VAPID pair`);
  }
  let keys: VapidKeys;
  try {
    keys = JSON.parse(readFileSync(path, 'utf8')) as VapidKeys;
  } catch {
    throw new ConfigError(`${path} is not a VAPID pair Herald wrote: delete it to generate a new one`);
  }
  const problem = typeof keys?.publicKey === 'string' && typeof keys.privateKey === 'string' ? vapidPairProblem(keys.publicKey, keys.privateKey) : 'not a pair';
  if (problem) throw new ConfigError(`${path} does not hold a usable VAPID pair (${problem}): delete it to generate a new one`);
  return { publicKey: keys.publicKey, privateKey: keys.privateKey };
}
