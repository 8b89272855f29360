// The one publisher of the tests and tools: POST /v1/notifications to a node or a proxy.
// HeraldProcess.publish (herald.ts) and Cluster.publish (cluster.ts) call it with a
// publisher token of their own.
import assert from 'node:assert/strict';

export interface PublishAnswer {
  status: number;
  headers: Headers;
  // The answer's JSON (its text when not JSON), of any shape: tests assert on the fields
  // they expect.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * POST /v1/notifications at `baseUrl` with `token` as the Bearer token. `signal` bounds a
 * publish that must not hang (e.g. `AbortSignal.timeout(10_000)`); it then throws.
 */
export async function publish(baseUrl: string, token: string, body: unknown, options: { signal?: AbortSignal } = {}): Promise<PublishAnswer> {
  const res = await fetch(`${baseUrl}/v1/notifications`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: options.signal,
  });
  const text = await res.text();
  let parsed: unknown = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Publishes through `target` (a Herald process) and fails unless it is accepted (202). */
export async function publishAccepted(target: { publish(body: unknown, token?: string): Promise<PublishAnswer> }, body: unknown, token?: string): Promise<PublishAnswer> {
  const answer = await target.publish(body, token);
  assert.equal(answer.status, 202, `publish answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer;
}
