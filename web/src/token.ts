/**
 * Where the page gets its token: the URL fragment (never sent to the server, removed from the
 * address bar at once) or dev minting; then it is traded for the HttpOnly session cookie, so
 * a reload finds the session without the token being stored anywhere a script or the history
 * can read it.
 */

export function tokenFromFragment(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token ? token : undefined;
}

/** The JWT's `sub`, read without verifying (the server verifies); only names the shared stream. */
export function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

/** Removes `#token=…` from the address bar and the history entry, keeping path and query. */
export function dropTokenFromUrl(): void {
  history.replaceState(history.state, '', `${location.pathname}${location.search}`);
}

export interface Session {
  user: string;
}

/** Sets the HttpOnly `herald_token` cookie from `token`; undefined when the server refuses. */
export async function startSession(token: string): Promise<Session | undefined> {
  const response = await fetch('v1/session', { method: 'POST', headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' } });
  if (!response.ok) return undefined;
  return (await response.json()) as Session;
}

/** The session the cookie holds, if any (the page cannot read the HttpOnly cookie itself). */
export async function currentSession(): Promise<Session | undefined> {
  const response = await fetch('v1/session', { headers: { Accept: 'application/json' } });
  if (!response.ok) return undefined;
  return (await response.json()) as Session;
}

/** Asks an embedded development server for a token; fails with a readable message otherwise. */
export async function mintDevToken(user: string): Promise<string> {
  const response = await fetch('v1/dev/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ user }),
  });
  if (response.status === 404) {
    throw new Error('This server does not mint development tokens. Open the page as /#token=<jwt>.');
  }
  const body = (await response.json().catch(() => ({}))) as { token?: string; error?: { message?: string } };
  if (!response.ok || !body.token) {
    throw new Error(body.error?.message ?? `Could not mint a token (${response.status}).`);
  }
  return body.token;
}
