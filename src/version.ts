import { readFileSync } from 'node:fs';

/**
 * Herald's version, from its package.json (semver): said by `herald --version`, `/healthz`
 * and the OpenAPI description. Read at start from the installed package, so it cannot drift.
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
