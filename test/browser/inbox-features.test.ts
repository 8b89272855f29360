import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { launchChromium, waitFor } from './chromium.js';

// The inbox page's features (filters, archive, snooze, preferences, expiry, paging, empty
// state, relative times), each driven through the page in Chromium against a real Herald.

interface Inbox {
  h: HeraldProcess;
  browser: Browser;
  token: string;
  user: string;
}

let users = 0;

/** A Herald, a Chromium and a fresh user with a token. */
async function setUp(t: TestContext, env: Record<string, string> = {}): Promise<Inbox> {
  const h = await startHerald({ env });
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  users += 1;
  const user = `user${users}`;
  return { h, browser, token: await h.token(user), user };
}

/** Publishes to `user` and answers the new notification's id (undefined when the user muted its type). */
async function publish(inbox: Inbox, fields: Record<string, unknown>): Promise<string> {
  const answer = await inbox.h.publish({ recipients: [inbox.user], type: 'alert', ...fields });
  assert.equal(answer.status, 202, `publish answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.notifications[0]?.id as string;
}

/** One inbox API call as the user, outside the page (another device, say). */
async function api(inbox: Inbox, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${inbox.h.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${inbox.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function openPage(inbox: Inbox, page?: Page): Promise<Page> {
  const tab = page ?? (await inbox.browser.newPage({ viewport: { width: 900, height: 800 } }));
  await tab.goto(`${inbox.h.url}/#token=${inbox.token}`);
  // A cold Chromium loading the page on a loaded 2-core machine has taken over 10 s.
  await tab.locator('[data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ timeout: 30_000 });
  await tab.locator('#loading').waitFor({ state: 'hidden' });
  return tab;
}

const badge = (page: Page) => page.locator('[data-testid="unread-count"]').textContent();
const items = (page: Page) => page.locator('[data-testid="notification"]');
const item = (page: Page, content: string) => page.locator('[data-testid="notification"]', { hasText: content });
const contents = (page: Page) => page.locator('[data-testid="notification"] .content').allTextContents();

async function showFilter(page: Page, filter: 'all' | 'unread' | 'snoozed' | 'archived'): Promise<void> {
  await page.locator(`[data-testid="filter-${filter}"]`).click();
  await waitFor(async () => (await page.locator(`[data-testid="filter-${filter}"]`).getAttribute('aria-pressed')) === 'true', `${filter} pressed`);
  await page.locator('#loading').waitFor({ state: 'hidden' });
}

async function waitForContents(page: Page, expected: string[], what: string): Promise<void> {
  await waitFor(async () => JSON.stringify(await contents(page)) === JSON.stringify(expected), what);
}

test('the unread filter shows only the unread notifications', async (t) => {
  const inbox = await setUp(t);
  const read = await publish(inbox, { content: 'already read' });
  await publish(inbox, { content: 'still unread' });
  await api(inbox, 'PATCH', `/v1/notifications/${read}`, { status: 'read' });
  const page = await openPage(inbox);
  await waitForContents(page, ['still unread', 'already read'], 'both in the inbox');
  await showFilter(page, 'unread');
  await waitForContents(page, ['still unread'], 'only the unread one');
});

test('the all filter shows read and unread notifications but not archived ones', async (t) => {
  const inbox = await setUp(t);
  const read = await publish(inbox, { content: 'read one' });
  const archived = await publish(inbox, { content: 'archived one' });
  await publish(inbox, { content: 'unread one' });
  await api(inbox, 'PATCH', `/v1/notifications/${read}`, { status: 'read' });
  await api(inbox, 'PATCH', `/v1/notifications/${archived}`, { archived: true });
  const page = await openPage(inbox);
  await showFilter(page, 'unread');
  await waitForContents(page, ['unread one'], 'the unread view');
  await showFilter(page, 'all');
  await waitForContents(page, ['unread one', 'read one'], 'read and unread, no archived');
});

test('the archived filter lists archived notifications; unarchive puts one back in the inbox', async (t) => {
  const inbox = await setUp(t);
  const archived = await publish(inbox, { content: 'put away' });
  await publish(inbox, { content: 'kept' });
  await api(inbox, 'PATCH', `/v1/notifications/${archived}`, { archived: true });
  const page = await openPage(inbox);
  await showFilter(page, 'archived');
  await waitForContents(page, ['put away'], 'the archived view');
  await item(page, 'put away').locator('[data-testid="unarchive"]').click();
  await waitForContents(page, [], 'it left the archived view');
  await showFilter(page, 'all');
  await waitForContents(page, ['kept', 'put away'], 'back in the inbox');
  assert.equal(await badge(page), '2');
});

test('the snoozed filter lists snoozed notifications; wake now puts one back', async (t) => {
  const inbox = await setUp(t);
  const snoozed = await publish(inbox, { content: 'later please' });
  await publish(inbox, { content: 'now' });
  await api(inbox, 'PATCH', `/v1/notifications/${snoozed}`, { snoozed_until: new Date(Date.now() + 3_600_000).toISOString() });
  const page = await openPage(inbox);
  await waitForContents(page, ['now'], 'the snoozed one is not in the inbox');
  await showFilter(page, 'snoozed');
  await waitForContents(page, ['later please'], 'the snoozed view');
  await item(page, 'later please').locator('[data-testid="unsnooze"]').click();
  await waitForContents(page, [], 'it woke');
  await waitFor(async () => (await badge(page)) === '2', 'the count has it again');
  await showFilter(page, 'all');
  await waitForContents(page, ['now', 'later please'], 'back in the inbox');
});

test('archive hides the notification in every tab and the count follows', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { content: 'first' });
  await publish(inbox, { content: 'second' });
  const context = await inbox.browser.newContext();
  const a = await openPage(inbox, await context.newPage());
  const b = await openPage(inbox, await context.newPage());
  for (const page of [a, b]) await waitForContents(page, ['second', 'first'], 'both items');
  await item(a, 'first').locator('[data-testid="archive"]').click();
  for (const page of [a, b]) {
    await waitForContents(page, ['second'], 'archived one gone');
    await waitFor(async () => (await badge(page)) === '1', 'count 1');
  }
});

test('snooze hides the notification, and the count follows in a second tab', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { content: 'not now' });
  await publish(inbox, { content: 'keep' });
  const context = await inbox.browser.newContext();
  const a = await openPage(inbox, await context.newPage());
  const b = await openPage(inbox, await context.newPage());
  await waitFor(async () => (await badge(b)) === '2', 'count 2 in tab B');
  await item(a, 'not now').locator('[data-testid="snooze"]').click();
  await item(a, 'not now').locator('[data-testid="snooze-option"][data-choice="1h"]').click();
  for (const page of [a, b]) {
    await waitForContents(page, ['keep'], 'snoozed one hidden');
    await waitFor(async () => (await badge(page)) === '1', 'count 1');
  }
  const [snoozed] = ((await api(inbox, 'GET', '/v1/notifications?status=snoozed')) as { items: Array<{ content: string; snoozed_until: string }> }).items;
  assert.equal(snoozed?.content, 'not now');
  const ahead = Date.parse(snoozed?.snoozed_until ?? '') - Date.now();
  assert.ok(ahead > 55 * 60_000 && ahead <= 60 * 60_000, `snoozed for about an hour, not ${ahead} ms`);
});

test('a short snooze wakes by time: the notification comes back with its count', async (t) => {
  const inbox = await setUp(t);
  const id = await publish(inbox, { content: 'back soon' });
  const page = await openPage(inbox);
  await waitForContents(page, ['back soon'], 'the item');
  await api(inbox, 'PATCH', `/v1/notifications/${id}`, { snoozed_until: new Date(Date.now() + 4_000).toISOString() });
  await waitForContents(page, [], 'snoozed away');
  assert.equal(await badge(page), '0');
  await waitForContents(page, ['back soon'], 'woken by time');
  await waitFor(async () => (await badge(page)) === '1', 'count 1 again');
  assert.equal(await item(page, 'back soon').getAttribute('data-status'), 'unread');
});

test('muting a type in the preferences panel hides new notifications of that type', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { type: 'promo', content: 'first offer' });
  const page = await openPage(inbox);
  await waitForContents(page, ['first offer'], 'the first promo');
  await page.locator('[data-testid="preferences"] summary').click();
  const mute = page.locator('[data-testid="mute-type"][data-type="promo"]');
  await mute.check();
  await waitFor(async () => JSON.stringify(await api(inbox, 'GET', '/v1/preferences')) === '{"muted_types":["promo"]}', 'promo muted at the server');
  const suppressed = await inbox.h.publish({ recipients: [inbox.user], type: 'promo', content: 'second offer' });
  assert.deepEqual(suppressed.body.suppressed, [inbox.user]);
  await publish(inbox, { type: 'alert', content: 'an alert' });
  await waitForContents(page, ['an alert', 'first offer'], 'the alert arrives, the muted promo does not');
  assert.equal(await badge(page), '2');
  assert.equal(await mute.isChecked(), true);
});

test('an expired notification disappears from the page and from the count', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { content: 'lasting' });
  const page = await openPage(inbox);
  await waitForContents(page, ['lasting'], 'the lasting one');
  // Published once the page is open, so it arrives live well before it expires.
  await publish(inbox, { content: 'fleeting', expires_at: new Date(Date.now() + 4_000).toISOString() });
  await waitForContents(page, ['fleeting', 'lasting'], 'both items');
  await waitFor(async () => (await badge(page)) === '2', 'count 2');
  await waitForContents(page, ['lasting'], 'the expired one is gone');
  await waitFor(async () => (await badge(page)) === '1', 'count 1');
});

test('load more pages through the inbox with next_cursor', async (t) => {
  const inbox = await setUp(t);
  for (let i = 0; i < 53; i += 1) await publish(inbox, { content: `item ${i}` });
  const page = await openPage(inbox);
  await waitFor(async () => (await items(page).count()) === 50, 'the first page of 50');
  const more = page.locator('[data-testid="load-more"]');
  assert.equal(await more.isVisible(), true);
  await more.click();
  await waitFor(async () => (await items(page).count()) === 53, 'all 53');
  await more.waitFor({ state: 'hidden' });
  const shown = await contents(page);
  assert.equal(shown[0], 'item 52');
  assert.equal(shown[52], 'item 0');
  assert.equal(new Set(shown).size, 53, 'each once');
});

test('an empty inbox says so, and the note goes when a notification arrives', async (t) => {
  const inbox = await setUp(t);
  const page = await openPage(inbox);
  const empty = page.locator('[data-testid="empty"]');
  await empty.waitFor({ state: 'visible' });
  assert.match((await empty.textContent()) ?? '', /no notifications/);
  await publish(inbox, { content: 'hello' });
  await item(page, 'hello').waitFor();
  await empty.waitFor({ state: 'hidden' });
  await showFilter(page, 'snoozed');
  await empty.waitFor({ state: 'visible' });
  assert.equal(await empty.textContent(), 'Nothing snoozed.');
});

test('times read "3 min ago" with the absolute time in the title, and move on each minute', async (t) => {
  // A long heartbeat keeps the stream's watchdog quiet while the page's clock jumps ahead.
  const inbox = await setUp(t, { HERALD_HEARTBEAT_MS: '120000' });
  await publish(inbox, { content: 'timed' });
  const created = (await api(inbox, 'GET', '/v1/notifications')) as { items: Array<{ created_at: string }> };
  const at = Date.parse(created.items[0]?.created_at ?? '');
  const context = await inbox.browser.newContext();
  await context.clock.install({ time: at + 3 * 60_000 + 5_000 });
  const page = await openPage(inbox, await context.newPage());
  const time = item(page, 'timed').locator('time');
  await waitFor(async () => (await time.textContent()) === '3 min ago', '3 min ago');
  assert.equal(await time.getAttribute('datetime'), created.items[0]?.created_at);
  assert.equal(await time.getAttribute('title'), await page.evaluate((iso) => new Date(iso).toLocaleString(), created.items[0]?.created_at ?? ''));
  await context.clock.fastForward('01:00');
  await waitFor(async () => (await time.textContent()) === '4 min ago', '4 min ago a minute later');
});

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

test('axe finds no serious or critical violation with the preferences and a snooze menu open', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { type: 'promo', title: 'Sale', content: 'half price' });
  // The page's CSP forbids inline scripts, axe's included.
  const page = await openPage(inbox, await (await inbox.browser.newContext({ bypassCSP: true })).newPage());
  await item(page, 'half price').waitFor();
  await page.locator('[data-testid="preferences"] summary').click();
  await page.locator('[data-testid="mute-type"][data-type="promo"]').waitFor();
  await item(page, 'half price').locator('[data-testid="snooze"]').click();
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; nodes: unknown[] }> }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  const serious = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${JSON.stringify(v.nodes.map((node) => (node as { target: unknown }).target))}`);
  assert.deepEqual(serious, []);
});

test('the keyboard alone snoozes a notification: Tab to Snooze, Enter, Enter on a choice', async (t) => {
  const inbox = await setUp(t);
  await publish(inbox, { content: 'by keyboard' });
  const page = await openPage(inbox);
  await item(page, 'by keyboard').waitFor();
  await item(page, 'by keyboard').locator('[data-testid="archive"]').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid), 'snooze');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.choice), '1h', 'focus moves into the menu');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.testid), 'snooze', 'Escape returns to the button');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await waitForContents(page, [], 'snoozed by keyboard');
});
