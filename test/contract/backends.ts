// The stores every contract test runs against: a SQLite file and a PostgreSQL database of
// its own, each migrated, closed and removed when the test ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { openStore, type StoreOptions } from '../../src/store/open-store.js';
import type { NotificationStore } from '../../src/store/store.js';
import { createPgDatabase, lockServices } from '../helpers/services.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh store, migrated; `options` as openStore takes them (e.g. push queueing). */
  open(t: TestContext, options?: StoreOptions): Promise<NotificationStore>;
}

export const backends: Backend[] = [
  {
    name: 'sqlite',
    async open(t, options = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'herald-contract-'));
      const store = await openStore(join(dir, 'herald.db'), options);
      t.after(async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      await store.migrate();
      return store;
    },
  },
  {
    name: 'postgres',
    async open(t, options = {}) {
      await lockServices(t);
      const db = await createPgDatabase();
      const store = await openStore(db.url, options);
      t.after(async () => {
        await store.close();
        await db.drop();
      });
      await store.migrate();
      return store;
    },
  },
];
