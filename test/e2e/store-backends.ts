// The two stores the end-to-end tests of the inbox features run against: a Herald process
// on its own SQLite file, or on a fresh PostgreSQL database.
import type { TestContext } from 'node:test';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { createPgDatabase, lockServices } from '../helpers/services.js';

export const STORES = ['sqlite', 'postgres'] as const;
export type StoreName = (typeof STORES)[number];

/** A Herald on `store`, stopped (and its database dropped) when the test ends. */
export async function heraldOn(store: StoreName, t: TestContext, env: Record<string, string> = {}): Promise<HeraldProcess> {
  if (store === 'sqlite') {
    const herald = await startHerald({ env });
    t.after(() => herald.stop());
    return herald;
  }
  await lockServices(t);
  const db = await createPgDatabase();
  const herald = await startHerald({ env: { ...env, HERALD_DATABASE_URL: db.url } });
  t.after(async () => {
    await herald.stop();
    await db.drop();
  });
  return herald;
}

/** An authenticated JSON request; answers the status and the parsed body (null when empty). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function call(herald: HeraldProcess, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${herald.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export function inMs(ms: number): string {
  return new Date(Date.now() + ms).toISOString();
}
