/** Where the page gets its token: the URL fragment (never sent to the server) or dev minting. */

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
