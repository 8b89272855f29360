// <herald-inbox>'s inbox features, each driven through the element on a host page of another
// origin, against a real Herald, in Chromium: snooze, archive, the unread filter, expiry,
// preferences changed in another tab, action buttons, avatars, unsafe addresses, load more,
// relative times, and axe on a phone. One Herald, one host app and one Chromium for the
// file; each test has its own user and browser context.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { waitFor } from '../helpers/wait.js';
import { startChromium } from './chromium.js';
import { bellPage, startHostApp, type BellPosition, type HostApp } from './inbox-element-host.js';

let h: HeraldProcess;
let host: HostApp;
let browser: Browser;

before(async () => {
  host = await startHostApp();
  // A long heartbeat keeps the stream's watchdog quiet while a page's clock jumps ahead (the
  // relative-time test); nothing else here waits on heartbeats.
  h = await startHerald({ env: { HERALD_CORS_ORIGINS: host.origin, HERALD_HEARTBEAT_MS: '120000' } });
  host.herald = h.url;
  // Each user also follows a group of their own name (topic `group:<user>`), so a topic
  // notification reaches one test's user only.
  host.mintToken = (url) => {
    const user = url.searchParams.get('user') ?? 'nobody';
    return h.token(user, { groups: [user] });
  };
  browser = await startChromium();
});

after(async () => {
  await browser?.close();
  await h?.stop();
  await host?.close();
});

/** The addresses notifications point at in these tests, served here: the machine has no other network. */
const CI_PAGE = 'https://ci.example.org/builds/7';
const AVATAR = 'https://avatars.example.org/dana.png';
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

async function newContext(t: TestContext, options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1024, height: 720 }, colorScheme: options.colorScheme ?? 'light' });
  t.after(() => context.close());
  await context.route('https://ci.example.org/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Build 7</title>' }));
  await context.route('https://avatars.example.org/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PNG }));
  return context;
}

/** `user`'s bell page in a new tab of `context`, its stream open (the panel still closed). */
async function openBellPage(context: BrowserContext, user: string, position: BellPosition = 'right'): Promise<Page> {
  host.addPage(`/${user}`, bellPage(user, position));
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
  await page.goto(`${host.origin}/${user}`);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached', timeout: 30_000 });
  return page;
}

async function openPanel(page: Page): Promise<void> {
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await page.locator('herald-inbox [role="dialog"][data-layout]').waitFor();
}

/** Publishes to `user` and answers the new notification's id. */
async function publish(user: string, fields: Record<string, unknown>): Promise<string> {
  const answer = await publishAccepted(h, { recipients: [user], type: 'alert', ...fields });
  return answer.body.notifications[0].id as string;
}

/** One inbox API call as `user`, outside the page (another device, say). */
async function api(user: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${h.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await h.token(user)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const badge = (page: Page) => page.locator('herald-inbox [data-testid="unread-count"]').textContent();
const item = (page: Page, content: string) => page.locator('herald-inbox [data-testid="notification"]', { hasText: content });
const contents = (page: Page) => page.locator('herald-inbox [data-testid="notification"] .content').allTextContents();

async function waitForContents(page: Page, expected: string[], what: string): Promise<void> {
  await waitFor(async () => JSON.stringify(await contents(page)) === JSON.stringify(expected), what);
}

async function waitForBadge(page: Page, expected: string): Promise<void> {
  await waitFor(async () => (await badge(page)) === expected, `badge ${expected}`);
}

test('snooze: "For 1 hour" hides the notification in both tabs, the count follows, Herald holds it snoozed', async (t) => {
  const user = 'snoozer';
  await publish(user, { content: 'not now' });
  await publish(user, { content: 'keep' });
  const context = await newContext(t);
  const [a, b] = [await openBellPage(context, user), await openBellPage(context, user)];
  await waitForBadge(b, '2');
  await openPanel(a);
  await item(a, 'not now').locator('[data-testid="snooze"]').click();
  await item(a, 'not now').locator('[data-testid="snooze-option"][data-choice="1h"]').click();
  for (const page of [a, b]) {
    await waitForContents(page, ['keep'], 'the snoozed one hidden');
    await waitForBadge(page, '1');
  }
  const { items } = (await api(user, 'GET', '/v1/notifications?status=snoozed')) as { items: Array<{ content: string; snoozed_until: string }> };
  assert.equal(items[0]?.content, 'not now');
  const ahead = Date.parse(items[0]?.snoozed_until ?? '') - Date.now();
  assert.ok(ahead > 55 * 60_000 && ahead <= 60 * 60_000, `snoozed for about an hour, not ${ahead} ms`);
});

test('a snooze wakes by time: the notification comes back unread with its count', async (t) => {
  const user = 'waker';
  const id = await publish(user, { content: 'back soon' });
  const page = await openBellPage(await newContext(t), user);
  await waitForContents(page, ['back soon'], 'the item');
  await api(user, 'PATCH', `/v1/notifications/${id}`, { snoozed_until: new Date(Date.now() + 3_000).toISOString() });
  await waitForContents(page, [], 'snoozed away');
  await waitForBadge(page, '0');
  await waitForContents(page, ['back soon'], 'woken by time');
  await waitForBadge(page, '1');
  assert.equal(await item(page, 'back soon').getAttribute('data-status'), 'unread');
});

test('archive removes the notification in both tabs and the count follows', async (t) => {
  const user = 'archivist';
  const id = await publish(user, { content: 'put away' });
  await publish(user, { content: 'stays' });
  const context = await newContext(t);
  const [a, b] = [await openBellPage(context, user), await openBellPage(context, user)];
  await waitForBadge(b, '2');
  await openPanel(a);
  await item(a, 'put away').locator('[data-testid="archive"]').click();
  for (const page of [a, b]) {
    await waitForContents(page, ['stays'], 'the archived one gone');
    await waitForBadge(page, '1');
  }
  const archived = (await api(user, 'GET', '/v1/notifications?archived=true')) as { items: Array<{ id: string }> };
  assert.deepEqual(archived.items.map((entry) => entry.id), [id]);
});

test('the unread filter shows only unread notifications; all shows both again', async (t) => {
  const user = 'filterer';
  const read = await publish(user, { content: 'already read' });
  await publish(user, { content: 'still unread' });
  await api(user, 'PATCH', `/v1/notifications/${read}`, { status: 'read' });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  await waitForContents(page, ['still unread', 'already read'], 'both');
  await page.locator('herald-inbox [data-testid="filter-unread"]').click();
  await waitForContents(page, ['still unread'], 'only the unread one');
  assert.equal(await page.locator('herald-inbox [data-testid="filter-unread"]').getAttribute('aria-pressed'), 'true');
  await item(page, 'still unread').locator('[data-testid="mark-read"]').click();
  await waitForContents(page, [], 'read items leave the unread view');
  assert.equal(await page.locator('herald-inbox [data-testid="empty"]').textContent(), 'Nothing unread');
  await page.locator('herald-inbox [data-testid="filter-all"]').click();
  await waitForContents(page, ['still unread', 'already read'], 'both again');
});

test('an expiring notification leaves the list when it expires, and notification.expired brings the count down', async (t) => {
  const user = 'expirer';
  await publish(user, { content: 'lasting' });
  const page = await openBellPage(await newContext(t), user);
  await waitForContents(page, ['lasting'], 'the lasting one');
  // Published once the page is open, so it arrives live well before it expires.
  await publish(user, { content: 'fleeting', expires_at: new Date(Date.now() + 3_000).toISOString() });
  await waitForContents(page, ['fleeting', 'lasting'], 'both items');
  await waitForBadge(page, '2');
  await waitForContents(page, ['lasting'], 'the expired one gone');
  await waitForBadge(page, '1');
});

test('muting a type in another tab (the inbox page) hides its topic notifications in the element at once', async (t) => {
  const user = 'muter';
  await publishAccepted(h, { topic: `group:${user}`, type: 'promo', content: 'half price' });
  await publish(user, { content: 'an alert' });
  const context = await newContext(t);
  const page = await openBellPage(context, user);
  await waitForContents(page, ['an alert', 'half price'], 'both');
  await waitForBadge(page, '2');
  // Herald's own inbox page in another tab, same user: its preferences panel mutes promo.
  const other = await context.newPage();
  await other.goto(`${h.url}/#token=${await h.token(user, { groups: [user] })}`);
  await other.locator('[data-testid="preferences"] summary').click();
  await other.locator('[data-testid="mute-type"][data-type="promo"]').check();
  await waitForContents(page, ['an alert'], 'the promo gone from the element');
  await waitForBadge(page, '1');
});

test('a url action is a link to its https address: clicking it fires herald-action, follows it and marks the item read', async (t) => {
  const user = 'linker';
  await publish(user, { title: 'Build failed', content: 'main is red', data: { actions: [{ label: 'Open build', url: CI_PAGE }] } });
  const context = await newContext(t);
  await context.addInitScript(() => {
    document.addEventListener('herald-action', (event) => {
      const { href, event: name, label } = (event as CustomEvent<{ href?: string; event?: string; label: string }>).detail;
      sessionStorage.setItem('action', JSON.stringify({ href, event: name ?? null, label }));
    });
  });
  const page = await openBellPage(context, user);
  await openPanel(page);
  const link = item(page, 'main is red').locator('a[data-testid="action"]');
  assert.equal(await link.getAttribute('href'), CI_PAGE);
  assert.equal(await link.textContent(), 'Open build');
  await link.click();
  await page.waitForURL(CI_PAGE);
  await waitFor(async () => ((await api(user, 'GET', '/v1/notifications/unread-count')) as { unread_count: number }).unread_count === 0, 'the item read');
  await page.goBack();
  assert.deepEqual(JSON.parse((await page.evaluate(() => sessionStorage.getItem('action'))) ?? 'null'), { href: CI_PAGE, event: null, label: 'Open build' });
});

test('an event action fires herald-action with the notification and its event name, and stays on the page', async (t) => {
  const user = 'eventer';
  const id = await publish(user, { title: 'Build failed', content: 'retry it', data: { actions: [{ label: 'Retry', event: 'build.retry' }, { label: 'Open build', url: CI_PAGE }] } });
  const page = await openBellPage(await newContext(t), user);
  await page.evaluate(() => {
    const w = window as unknown as { actions: unknown[] };
    w.actions = [];
    document.querySelector('herald-inbox')?.addEventListener('herald-action', (event) => {
      const { notification, event: name, href } = (event as CustomEvent<{ notification: { id: string }; event?: string; href?: string }>).detail;
      w.actions.push({ id: notification.id, event: name, href: href ?? null });
    });
  });
  await openPanel(page);
  const buttons = item(page, 'retry it').locator('[data-testid="action"]');
  assert.deepEqual(await buttons.allTextContents(), ['Retry', 'Open build']);
  await buttons.first().click();
  await waitFor(async () => (await page.evaluate(() => (window as unknown as { actions: unknown[] }).actions.length)) === 1, 'one herald-action');
  assert.deepEqual(await page.evaluate(() => (window as unknown as { actions: unknown[] }).actions), [{ id, event: 'build.retry', href: null }]);
  await waitForBadge(page, '0');
  assert.equal(page.url(), `${host.origin}/${user}`);
});

test('an https avatar shows as a lazy image with the title as its alt text', async (t) => {
  const user = 'portrait';
  await publish(user, { title: 'Dana mentioned you', content: 'in the rollout plan', data: { avatar: AVATAR } });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  const avatar = item(page, 'in the rollout plan').locator('img[data-testid="avatar"]');
  await avatar.waitFor();
  assert.equal(await avatar.getAttribute('src'), AVATAR);
  assert.equal(await avatar.getAttribute('loading'), 'lazy');
  assert.equal(await avatar.getAttribute('alt'), 'Dana mentioned you');
  await waitFor(() => avatar.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth === 1), 'the image loaded');
});

test('unsafe action addresses are never drawn: javascript:, data:, http and https with a user name give no link and no button', async (t) => {
  const user = 'unsafe-actions';
  await publish(user, {
    content: 'bad actions',
    data: { actions: [{ label: 'Run', url: 'javascript:window.pwned=1', event: 'run' }, { label: 'Data', url: 'data:text/html,<script>alert(1)</script>' }] },
  });
  await publish(user, {
    content: 'more bad actions',
    data: { actions: [{ label: 'Plain', url: 'http://ci.example.org/builds/7' }, { label: 'Bank', url: 'https://bank.example@evil.example/' }] },
  });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  await waitForContents(page, ['more bad actions', 'bad actions'], 'both items');
  assert.equal(await page.locator('herald-inbox [data-testid="action"]').count(), 0);
  const hrefs = await page.evaluate(() => [...(document.querySelector('herald-inbox')?.shadowRoot?.querySelectorAll('[href]') ?? [])].map((el) => el.getAttribute('href')));
  assert.deepEqual(hrefs, []);
});

test('unsafe avatar addresses are never loaded: javascript:, data: and http give no image', async (t) => {
  const user = 'unsafe-avatars';
  const requested: string[] = [];
  for (const avatar of ['javascript:alert(1)', 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'http://avatars.example.org/dana.png']) {
    await publish(user, { content: `avatar ${avatar.slice(0, 5)}`, data: { avatar } });
  }
  const context = await newContext(t);
  context.on('request', (request) => { if (request.url().includes('avatars.example.org')) requested.push(request.url()); });
  const page = await openBellPage(context, user);
  await openPanel(page);
  await waitFor(async () => (await contents(page)).length === 3, 'three items');
  assert.equal(await page.locator('herald-inbox img[data-testid="avatar"]:visible').count(), 0);
  assert.deepEqual(await page.evaluate(() => [...(document.querySelector('herald-inbox')?.shadowRoot?.querySelectorAll('img[src]') ?? [])].map((img) => img.getAttribute('src'))), []);
  assert.deepEqual(requested, []);
});

test('load more appends the next page after the first 30', async (t) => {
  const user = 'pager';
  for (let i = 0; i < 33; i += 1) await publish(user, { content: `item ${i}` });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  await waitFor(async () => (await contents(page)).length === 30, 'the first page of 30');
  const more = page.locator('herald-inbox [data-testid="load-more"]');
  await more.click();
  await waitFor(async () => (await contents(page)).length === 33, 'all 33');
  await more.waitFor({ state: 'hidden' });
  const shown = await contents(page);
  assert.deepEqual([shown[0], shown[32], new Set(shown).size], ['item 32', 'item 0', 33]);
});

test('times read "3 min ago" with the absolute time in the title, and move on each minute while open', async (t) => {
  const user = 'timer';
  await publish(user, { content: 'timed' });
  const { items } = (await api(user, 'GET', '/v1/notifications')) as { items: Array<{ created_at: string }> };
  const createdAt = items[0]?.created_at ?? '';
  const context = await newContext(t);
  await context.clock.install({ time: Date.parse(createdAt) + 3 * 60_000 + 5_000 });
  const page = await openBellPage(context, user);
  await openPanel(page);
  const time = item(page, 'timed').locator('time');
  await waitFor(async () => (await time.textContent()) === '3 min ago', '3 min ago');
  assert.equal(await time.getAttribute('datetime'), createdAt);
  assert.equal(await time.getAttribute('title'), await page.evaluate((iso) => new Date(iso).toLocaleString(), createdAt));
  await context.clock.fastForward('01:00');
  await waitFor(async () => (await time.textContent()) === '4 min ago', '4 min ago a minute later');
});

/** The data-testid (or data-choice) of what has focus inside the element's shadow root. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const active = document.querySelector('herald-inbox')?.shadowRoot?.activeElement as HTMLElement | null | undefined;
    return active ? (active.dataset.choice ?? active.dataset.testid ?? active.className) : null;
  });

test('the keyboard alone snoozes: Enter on Snooze moves into its choices, Escape closes only them, Enter on a choice snoozes', async (t) => {
  const user = 'keyboard-snoozer';
  await publish(user, { content: 'older' });
  await publish(user, { content: 'by keyboard' });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  await waitForContents(page, ['by keyboard', 'older'], 'both');
  await item(page, 'by keyboard').locator('[data-testid="snooze"]').focus();
  await page.keyboard.press('Enter');
  assert.equal(await focused(page), '1h', 'focus moves to the first choice');
  await page.keyboard.press('Escape');
  assert.equal(await focused(page), 'snooze', 'Escape gives focus back to Snooze');
  assert.equal(await page.locator('herald-inbox [role="dialog"]').isVisible(), true, 'and leaves the panel open');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await waitForContents(page, ['older'], 'snoozed by keyboard');
  assert.equal(await focused(page), 'snooze', "focus is on the next item's Snooze");
  assert.equal(await item(page, 'older').locator('[data-testid="snooze"]').evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true);
});

test("archiving the focused item moves focus to the next item's Archive", async (t) => {
  const user = 'keyboard-archivist';
  await publish(user, { content: 'next one' });
  await publish(user, { content: 'archive me' });
  const page = await openBellPage(await newContext(t), user);
  await openPanel(page);
  await waitForContents(page, ['archive me', 'next one'], 'both');
  await item(page, 'archive me').locator('[data-testid="archive"]').focus();
  await page.keyboard.press('Enter');
  await waitForContents(page, ['next one'], 'archived');
  assert.equal(await item(page, 'next one').locator('[data-testid="archive"]').evaluate((el) => el === (el.getRootNode() as ShadowRoot).activeElement), true);
});

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page (shadow roots included), one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
}

/** A phone-sized page with the sheet open over items with actions and an avatar, one read, a snooze menu open. */
async function phoneWithEverything(t: TestContext, user: string, colorScheme: 'light' | 'dark'): Promise<Page> {
  await publish(user, { title: 'Disk almost full', content: 'db-2 is at 91 %', data: { actions: [{ label: 'Open dashboard', url: CI_PAGE }, { label: 'Silence', event: 'alert.silence' }] } });
  await publish(user, { type: 'comment.mention', title: 'Dana mentioned you', content: 'in the rollout plan', data: { avatar: AVATAR } });
  const page = await openBellPage(await newContext(t, { viewport: { width: 375, height: 667 }, colorScheme }), user, 'phone');
  await openPanel(page);
  await item(page, 'in the rollout plan').locator('[data-testid="mark-read"]').click();
  await waitForBadge(page, '1');
  await item(page, 'db-2 is at 91 %').locator('[data-testid="snooze"]').click();
  await item(page, 'db-2 is at 91 %').locator('[data-testid="snooze-option"]').first().waitFor();
  assert.equal(await page.locator('herald-inbox [role="dialog"]').getAttribute('data-layout'), 'sheet');
  return page;
}

test('axe finds no serious or critical violation on a phone with the sheet open (light)', async (t) => {
  const page = await phoneWithEverything(t, 'axe-phone-light', 'light');
  assert.deepEqual(await seriousViolations(page), []);
});

test('axe finds no serious or critical violation on a phone with the sheet open (dark)', async (t) => {
  const page = await phoneWithEverything(t, 'axe-phone-dark', 'dark');
  assert.deepEqual(await seriousViolations(page), []);
});
