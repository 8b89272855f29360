// A Herald process with Web Push on, pushing to a stand-in push service the test runs
// (test/helpers/push-service.ts), on either store.
import type { TestContext } from 'node:test';
import { generateVapidKeys, type VapidKeys } from '../../src/push/vapid-keys.js';
import type { HeraldProcess } from '../helpers/herald.js';
import { startPushService, type StandInPushService, type SubscriptionJson } from '../helpers/push-service.js';
import { waitFor } from '../helpers/wait.js';
import { call, heraldOn, type StoreName } from './store-backends.js';

export interface PushSetup {
  herald: HeraldProcess;
  service: StandInPushService;
  vapid: VapidKeys;
  /** A token for `user`, and a subscription of theirs stored at Herald (`count` browsers). */
  subscribe(user: string, count?: number): Promise<{ token: string; subscriptions: SubscriptionJson[] }>;
  /** Waits until the push queue is empty: every push sent or decided against. */
  drained(): Promise<void>;
}

/** The environment that turns push on with `vapid`, pushing only to `service`. */
export function pushEnv(service: StandInPushService, vapid: VapidKeys, delayMs = 400): Record<string, string> {
  return {
    HERALD_VAPID_PUBLIC_KEY: vapid.publicKey,
    HERALD_VAPID_PRIVATE_KEY: vapid.privateKey,
    HERALD_VAPID_SUBJECT: 'mailto:push-tests@example.com',
    HERALD_PUSH_ALLOWED_ORIGINS: service.origin,
    HERALD_PUSH_DELAY_MS: String(delayMs),
  };
}

export async function pushSetup(store: StoreName, t: TestContext, env: Record<string, string> = {}): Promise<PushSetup> {
  const service = await startPushService();
  t.after(() => service.close());
  const vapid = generateVapidKeys();
  const herald = await heraldOn(store, t, { ...pushEnv(service, vapid), ...env });
  return {
    herald, service, vapid,
    async subscribe(user, count = 1) {
      const token = await herald.token(user, { scope: 'subscribe' });
      const subscriptions: SubscriptionJson[] = [];
      for (let i = 0; i < count; i++) {
        const subscription = service.subscribe();
        const answer = await call(herald, 'POST', '/v1/push/subscriptions', token, subscription);
        if (answer.status !== 201) throw new Error(`subscribe answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        subscriptions.push(subscription);
      }
      return { token, subscriptions };
    },
    async drained() {
      await waitFor(async () => (await herald.metric('herald_push_queue_depth')) === 0 || null, 'the push queue to empty');
    },
  };
}

/** Waits until herald_push_skipped_total{reason} reaches `count`. */
export async function skipped(herald: HeraldProcess, reason: string, count = 1): Promise<void> {
  await waitFor(async () => (await herald.metric(`herald_push_skipped_total{reason="${reason}"}`)) >= count || null, `${count} pushes skipped as ${reason}`);
}
