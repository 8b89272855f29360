// <herald-inbox>'s "Enable notifications" control (README.md, "Web Push" and "Drop-in inbox"),
// on a host page of another origin than Herald, in real Chromium, against a Herald with push
// on and the test's stand-in push service. The host app serves its own service worker
// (/sw.js, importing Herald's), named by the element's `service-worker` attribute: a page can
// register no worker of another origin. Chromium cannot make a real PushSubscription here, so
// the page's PushManager hands out one made by the stand-in (push-stub.ts).
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { generateVapidKeys } from '../../src/push/vapid-keys.js';
import { pushEnv } from '../e2e/push-harness.js';
import { call } from '../e2e/store-backends.js';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { startPushService, type StandInPushService, type SubscriptionJson } from '../helpers/push-service.js';
import { waitFor } from '../helpers/wait.js';
import { startChromium } from './chromium.js';
import { bellPage, EXAMPLE_HERALD, startHostApp, type HostApp } from './inbox-element-host.js';
import { stubPushManager } from './push-stub.js';

const BLOCKED = 'Notifications are blocked in your browser settings';

let browser: Browser;
let service: StandInPushService;
/** A Herald with push on, letting `host` in by CORS. */
let shared: { h: HeraldProcess; host: HostApp };

/** A host app and a Herald that lets it in by CORS, with `env` (push on, or not). */
async function startHostAndHerald(env: Record<string, string>): Promise<{ h: HeraldProcess; host: HostApp }> {
  const host = await startHostApp();
  const h = await startHerald({ env: { ...env, HERALD_CORS_ORIGINS: host.origin } }).catch(async (err: unknown) => {
    await host.close();
    throw err;
  });
  host.herald = h.url;
  host.mintToken = (url) => h.token(url.searchParams.get('user') ?? 'nobody', { scope: 'subscribe' });
  // The app's own worker: Herald's, loaded from Herald (the address is filled in when served).
  host.addPage('/sw.js', `self.HERALD_SERVER = '${EXAMPLE_HERALD}';\nimportScripts('${EXAMPLE_HERALD}/herald-sw.js');\n`);
  host.addPage('/app-sw.js', `self.HERALD_SERVER = '${EXAMPLE_HERALD}';\nimportScripts('${EXAMPLE_HERALD}/herald-sw.js');\n`);
  return { h, host };
}

before(async () => {
  browser = await startChromium();
  service = await startPushService();
  shared = await startHostAndHerald(pushEnv(service, generateVapidKeys()));
});

after(async () => {
  await browser?.close();
  await shared?.h.stop();
  await shared?.host.close();
  await service?.close();
});

interface PushPage {
  page: Page;
  context: BrowserContext;
  /** Errors the page threw (none expected). */
  errors: string[];
}

/**
 * Opens a bell page of `host` for `user` (its element with `attributes`), after `prepare`
 * set the context up (permissions, init scripts); waits for the stream and opens the panel.
 */
async function openPushPage(t: TestContext, host: HostApp, user: string, attributes: string, prepare: (context: BrowserContext) => Promise<void>): Promise<PushPage> {
  host.addPage(`/${user}`, bellPage(user, 'right', attributes));
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  t.after(() => context.close());
  await prepare(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${host.origin}/${user}`);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached', timeout: 30_000 });
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await page.locator('herald-inbox [role="dialog"]').waitFor();
  return { page, context, errors };
}

/** The push stub and the notification permission a user who said yes has. */
function grantedWith(host: HostApp, subscription: SubscriptionJson) {
  return async (context: BrowserContext): Promise<void> => {
    await context.grantPermissions(['notifications'], { origin: host.origin });
    await context.addInitScript(stubPushManager, subscription);
  };
}

const toggle = (page: Page) => page.locator('herald-inbox [data-testid="push-toggle"]');

/** The endpoints Herald stores for `user`. */
async function storedEndpoints(h: HeraldProcess, user: string): Promise<string[]> {
  const answer = await call(h, 'GET', '/v1/push/subscriptions', await h.token(user, { scope: 'subscribe' }));
  assert.equal(answer.status, 200);
  return (answer.body.items as Array<{ endpoint: string }>).map((item) => item.endpoint);
}

test('the footer shows "Enable notifications": a click subscribes at Herald and flips it to "Turn off notifications", a second press (keyboard) unsubscribes', async (t) => {
  const { h, host } = shared;
  const subscription = service.subscribe();
  const { page, errors } = await openPushPage(t, host, 'ana', 'service-worker="/sw.js"', grantedWith(host, subscription));

  const control = toggle(page);
  await control.filter({ hasText: /^Enable notifications$/ }).waitFor();
  assert.equal(await control.getAttribute('data-status'), 'unsubscribed');
  await control.click();
  await control.filter({ hasText: /^Turn off notifications$/ }).waitFor();
  assert.equal(await control.getAttribute('data-status'), 'subscribed');
  assert.deepEqual(await storedEndpoints(h, 'ana'), [subscription.endpoint], 'Herald stores the subscription for the user');

  await control.focus();
  await page.keyboard.press('Enter');
  await control.filter({ hasText: /^Enable notifications$/ }).waitFor();
  assert.equal(await control.getAttribute('data-status'), 'unsubscribed');
  assert.deepEqual(await storedEndpoints(h, 'ana'), [], 'the subscription is deleted at Herald');
  assert.equal(await page.locator('herald-inbox [part="error"]').isVisible(), false, 'no error shown');
  assert.deepEqual(errors, []);
});

test('the control is hidden when the server has push turned off', async (t) => {
  const { h, host } = await startHostAndHerald({});
  t.after(async () => {
    await h.stop();
    await host.close();
  });
  const { page, errors } = await openPushPage(t, host, 'ben', 'service-worker="/sw.js"', grantedWith(host, service.subscribe()));
  await page.locator('herald-inbox [data-testid="push-toggle"][data-status="disabled"]').waitFor({ state: 'attached' });
  assert.equal(await toggle(page).isVisible(), false);
  assert.equal(await page.locator('herald-inbox footer').isVisible(), false, 'the empty footer is hidden');
  assert.deepEqual(errors, []);
});

test('the control is hidden when the browser has no PushManager', async (t) => {
  const { host } = shared;
  const { page, errors } = await openPushPage(t, host, 'cai', 'service-worker="/sw.js"', async (context) => {
    await context.grantPermissions(['notifications'], { origin: host.origin });
    await context.addInitScript(() => { delete (globalThis as { PushManager?: unknown }).PushManager; });
  });
  await page.locator('herald-inbox [data-testid="push-toggle"][data-status="unsupported"]').waitFor({ state: 'attached' });
  assert.equal(await toggle(page).isVisible(), false);
  assert.equal(await page.locator('herald-inbox footer').isVisible(), false);
  assert.deepEqual(errors, []);
});

test('a user who blocks notifications at the prompt gets the blocked message, no error and no subscription', async (t) => {
  const { h, host } = shared;
  const { page, errors } = await openPushPage(t, host, 'dee', 'service-worker="/sw.js"', async (context) => {
    await context.addInitScript(stubPushManager, service.subscribe());
    // The browser's prompt, answered "Block".
    await context.addInitScript(() => {
      let permission: NotificationPermission = 'default';
      Object.defineProperty(Notification, 'permission', { get: () => permission, configurable: true });
      Notification.requestPermission = async () => (permission = 'denied');
    });
  });
  await toggle(page).filter({ hasText: /^Enable notifications$/ }).waitFor();
  await toggle(page).click();
  await page.locator('herald-inbox [data-testid="push-note"]', { hasText: BLOCKED }).waitFor();
  assert.equal(await toggle(page).isVisible(), false, 'no button to press in vain');
  assert.equal(await page.locator('herald-inbox [part="error"]').isVisible(), false, 'the refusal is not an error');
  assert.equal(await page.evaluate(() => (globalThis as unknown as { pushSubscribeCalls: number }).pushSubscribeCalls), 0);
  assert.deepEqual(await storedEndpoints(h, 'dee'), []);
  assert.deepEqual(errors, []);
});

test('notifications blocked in the browser\'s settings while the page is open show the blocked message without a reload', async (t) => {
  const { host } = shared;
  const { page, context, errors } = await openPushPage(t, host, 'dan', 'service-worker="/sw.js"', async (context) => {
    await context.addInitScript(stubPushManager, service.subscribe());
  });
  await toggle(page).filter({ hasText: /^Enable notifications$/ }).waitFor();
  // What the browser's site settings do: the page learns of it only through the permission's change event.
  const cdp = await context.newCDPSession(page);
  const { targetInfo } = await cdp.send('Target.getTargetInfo');
  await cdp.send('Browser.setPermission', { permission: { name: 'notifications' }, setting: 'denied', origin: host.origin, browserContextId: targetInfo.browserContextId });
  await page.locator('herald-inbox [data-testid="push-note"]', { hasText: BLOCKED }).waitFor();
  assert.equal(await toggle(page).isVisible(), false);
  assert.equal(await page.locator('herald-inbox [part="error"]').isVisible(), false);
  assert.deepEqual(errors, []);
});

test('the service-worker attribute registers that script of the host page\'s origin, which runs Herald\'s worker', async (t) => {
  const { h, host } = shared;
  const subscription = service.subscribe();
  const { page, context } = await openPushPage(t, host, 'eli', 'service-worker="/app-sw.js"', grantedWith(host, subscription));
  await toggle(page).filter({ hasText: /^Enable notifications$/ }).click();
  await toggle(page).filter({ hasText: /^Turn off notifications$/ }).waitFor();

  const registered = await page.evaluate(async () => {
    const registrations = await navigator.serviceWorker.getRegistrations();
    return registrations.map((r) => r.active?.scriptURL);
  });
  assert.deepEqual(registered, [`${host.origin}/app-sw.js`]);
  const worker = await waitFor(() => context.serviceWorkers().find((w) => w.url() === `${host.origin}/app-sw.js`), 'the host\'s worker to run');
  assert.deepEqual(
    await worker.evaluate(() => {
      const scope = self as unknown as { herald?: { showPush?: unknown }; HERALD_SERVER?: string };
      return { herald: typeof scope.herald?.showPush, server: scope.HERALD_SERVER };
    }),
    { herald: 'function', server: h.url },
    'Herald\'s worker code runs in it, pointed at Herald',
  );
  assert.deepEqual(await storedEndpoints(h, 'eli'), [subscription.endpoint]);
});

test('push="off" hides the control; removing the attribute shows it', async (t) => {
  const { host } = shared;
  const { page } = await openPushPage(t, host, 'fay', 'push="off" service-worker="/sw.js"', grantedWith(host, service.subscribe()));
  const control = toggle(page);
  assert.equal(await control.getAttribute('data-status'), 'off');
  assert.equal(await page.locator('herald-inbox footer').isVisible(), false);

  // The same page without the attribute shows it: the attribute is what hid it.
  await page.evaluate(() => document.querySelector('herald-inbox')?.removeAttribute('push'));
  await control.filter({ hasText: /^Enable notifications$/ }).waitFor();
  await page.evaluate(() => document.querySelector('herald-inbox')?.setAttribute('push', 'off'));
  await control.waitFor({ state: 'hidden' });
  assert.equal(await control.getAttribute('data-status'), 'off');
});
