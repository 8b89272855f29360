import { HeraldError } from './types.js';

/** The server's variable that lists the page origins it lets in. */
const CORS_VARIABLE = 'HERALD_CORS_ORIGINS';

/**
 * The `network_error` for a `fetch` that threw. A browser reports a CORS refusal exactly as it
 * reports an unreachable server (a TypeError, "Failed to fetch", the reason only in its
 * console), so from a page on another origin than Herald's the message says what to set, as a
 * condition: Herald refuses a preflight from an unlisted origin.
 */
export function networkError(err: unknown, url: string): HeraldError {
  const cause = err instanceof Error ? err.message : String(err);
  const page = pageOrigin();
  const herald = new URL(url).origin;
  if (err instanceof TypeError && page !== undefined && page !== herald) {
    return new HeraldError(
      'network_error',
      `Could not reach Herald at ${herald} from ${page} (${cause}): if Herald runs, add ${page} to ${CORS_VARIABLE}`,
    );
  }
  return new HeraldError('network_error', cause);
}

/** True for a `network_error` whose message says which origin to add to HERALD_CORS_ORIGINS. */
export function namesCorsOrigin(err: HeraldError): boolean {
  return err.code === 'network_error' && err.message.includes(CORS_VARIABLE);
}

function pageOrigin(): string | undefined {
  const origin = (globalThis as { location?: { origin?: unknown } }).location?.origin;
  // An opaque origin ("null": a file: page, a sandboxed frame) is no origin one could list.
  return typeof origin === 'string' && origin !== 'null' ? origin : undefined;
}
