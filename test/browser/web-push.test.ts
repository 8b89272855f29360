// Web Push in Chromium (README.md, "Web Push"): the inbox page's "Enable notifications" registers
// Herald's service worker and stores a subscription; a push Herald sends is delivered to
// the worker, which shows the notification; a click on it marks the notification read, and
// the inbox open in another tab shows it read with the badge down.
//
// Chromium cannot make a real PushSubscription here (no push service is reachable), so the
// page's PushManager hands out one made by the test's stand-in push service, whose keys the
// stand-in decrypts with; the decrypted push is then given to the worker through the
// DevTools protocol (ServiceWorker.deliverPushMessage), as the browser would on arrival.
// The click is the worker's own click handler, called in the worker: a system
// notification cannot be clicked by a headless browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { waitFor } from '../helpers/wait.js';
import { pushSetup } from '../e2e/push-harness.js';
import { launchChromium } from './chromium.js';
import { stubPushManager } from './push-stub.js';

async function openInbox(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/#token=${token}`);
  await page.locator('[data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ timeout: 30_000 });
}

test('a push shows a notification from the service worker, and a click on it marks it read in every open inbox', async (t) => {
  const { herald, service } = await pushSetup('sqlite', t);
  const subscription = service.subscribe();
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  await context.grantPermissions(['notifications'], { origin: herald.url });
  await context.addInitScript(stubPushManager, subscription);
  const token = await herald.token('alice', { scope: 'subscribe' });

  const page = await context.newPage();
  await openInbox(page, herald.url, token);
  const toggle = page.locator('[data-testid="push-toggle"]');
  await toggle.filter({ hasText: 'Enable notifications' }).waitFor();
  await toggle.click();
  await toggle.filter({ hasText: 'Turn off notifications' }).waitFor();
  const other = await context.newPage();
  await openInbox(other, herald.url, token);

  const id: string = (await herald.publish({ recipients: ['alice'], type: 'comment.mention', title: 'Ana mentioned you', content: 'Look at this', push: 'always' })).body.notifications[0].id;
  const [push] = await service.waitForAccepted(1, subscription.endpoint);
  await other.locator('[data-testid="unread-count"]', { hasText: /^1$/ }).waitFor();

  // The push service hands the decrypted message to the browser, which wakes the worker.
  const cdp = await context.newCDPSession(page);
  const registrations: Array<{ registrationId: string; scopeURL: string }> = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (event: { registrations: Array<{ registrationId: string; scopeURL: string }> }) => registrations.push(...event.registrations));
  await cdp.send('ServiceWorker.enable');
  const registration = await waitFor(() => registrations.find((r) => r.scopeURL === `${herald.url}/`), 'the service worker registration');
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: herald.url, registrationId: registration.registrationId, data: JSON.stringify(push!.payload) });

  const shown = await waitFor(() => page.evaluate(async () => {
    const notifications = await (await navigator.serviceWorker.ready).getNotifications();
    return notifications.length > 0 ? notifications.map((n) => ({ title: n.title, body: n.body, tag: n.tag })) : null;
  }), 'the notification to be shown');
  assert.deepEqual(shown, [{ title: 'Ana mentioned you', body: 'Look at this', tag: id }]);

  const [worker] = context.serviceWorkers();
  assert.ok(worker, 'the service worker runs');
  await worker.evaluate(async () => {
    const scope = self as unknown as { registration: { getNotifications(): Promise<unknown[]> }; herald: { notificationClick(n: unknown): Promise<void> } };
    const [notification] = await scope.registration.getNotifications();
    await scope.herald.notificationClick(notification);
  });

  await other.locator('[data-testid="notification"][data-status="read"]', { hasText: 'Look at this' }).waitFor();
  await other.locator('[data-testid="unread-count"]', { hasText: /^0$/ }).waitFor();
  assert.deepEqual(await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).length), 0, 'the clicked notification is closed');
});
