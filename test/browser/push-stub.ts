// Chromium cannot make a real PushSubscription here (no push service is reachable): these
// replace the page's PushManager with one that hands out a subscription made by the test's
// stand-in push service (test/helpers/push-service.ts), whose keys the stand-in decrypts with.
import type { SubscriptionJson } from '../helpers/push-service.js';

/**
 * Replaces the page's PushManager with one that hands out `subscription` (an init script: it
 * runs before the page's scripts). `globalThis.pushSubscribeCalls` counts the subscribes.
 */
export function stubPushManager(subscription: SubscriptionJson): void {
  let current: unknown = null;
  const counter = globalThis as unknown as { pushSubscribeCalls: number };
  counter.pushSubscribeCalls = 0;
  const manager = PushManager.prototype as unknown as Record<string, unknown>;
  manager.subscribe = async (options: { applicationServerKey: Uint8Array }) => {
    counter.pushSubscribeCalls += 1;
    const key = new Uint8Array(options.applicationServerKey).buffer;
    current = {
      endpoint: subscription.endpoint, expirationTime: null, options: { userVisibleOnly: true, applicationServerKey: key },
      toJSON: () => subscription,
      unsubscribe: async () => { current = null; return true; },
    };
    return current;
  };
  manager.getSubscription = async () => current;
}
