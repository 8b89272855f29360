// The example app of a framework (client/examples/react or vue), installed from the packed
// tarballs in a fresh folder, built with Vite and served from its own origin, run in real
// Chromium against a real Herald: the same cases for both frameworks (the two examples
// share their markup and data-testid hooks). Each test file calls this for its framework.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { buildExample, installExample, packPackages, serveApp, type ServedApp } from '../helpers/framework-apps.js';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { waitFor } from '../helpers/wait.js';
import { launchChromium } from './chromium.js';

/** The example's signed-in user (its backend signs in alice). */
const USER = 'alice';

type Renders = Record<string, number>;

// The app's own parts (the element's shadow root has a badge and a state of its own).
const count = (page: Page) => page.locator('.unread-badge > [data-testid="unread-count"]').textContent();
const connection = (page: Page) => page.locator('small[data-testid="connection-state"]').textContent();
const feedItem = (page: Page, content: string) => page.locator('main [data-testid="notification"]', { hasText: content });
const renders = (page: Page): Promise<Renders> => page.evaluate(() => ({ ...(globalThis as { heraldRenders?: Record<string, number> }).heraldRenders }));

export function frameworkAppTests(example: 'react' | 'vue'): void {
  const work = mkdtempSync(join(tmpdir(), `herald-${example}-app-`));
  let app: ServedApp;

  before(async () => {
    process.on('exit', () => rmSync(work, { recursive: true, force: true }));
    const tarballs = packPackages(work, ['client', example], { build: false });
    const dist = buildExample(installExample(example, work, tarballs));
    app = await serveApp(dist);
  });
  after(() => app.close());

  /** A Herald that lets the app's origin in, and a browser; the app's backend hands out alice's tokens. */
  async function setup(t: TestContext): Promise<{ h: HeraldProcess; context: BrowserContext }> {
    const h = await startHerald({ env: { HERALD_CORS_ORIGINS: app.origin } });
    t.after(() => h.stop());
    app.herald = h.url;
    app.mintToken = () => h.token(USER);
    const browser = await launchChromium(t);
    return { h, context: await browser.newContext({ viewport: { width: 1000, height: 700 } }) };
  }

  /** Opens the app and waits until its stream is open, its feed loaded and its badge counting. */
  async function openApp(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
    await page.goto(`${app.origin}/`);
    await waitFor(async () => (await connection(page)) === 'open', 'the stream to open', 15_000);
    await page.locator('main h2', { hasText: 'Notifications' }).waitFor({ timeout: 15_000 });
    await waitFor(async () => /^\d+$/.test((await count(page)) ?? ''), 'the badge to show a count', 15_000);
    return page;
  }

  test(`${example}: a publish appears live in the feed and the badge`, async (t) => {
    const { h, context } = await setup(t);
    const page = await openApp(context);
    await page.locator('main [data-testid="empty"]').waitFor();
    assert.equal(await count(page), '0');

    await publishAccepted(h, { recipients: [USER], type: 'deploy', title: 'Deploy finished', content: 'live in eu-west' });
    await feedItem(page, 'live in eu-west').waitFor({ timeout: 10_000 });
    assert.equal(await feedItem(page, 'live in eu-west').getAttribute('data-status'), 'unread');
    await waitFor(async () => (await count(page)) === '1', 'badge 1');
  });

  test(`${example}: marking read in one tab lowers the count in the other`, async (t) => {
    const { h, context } = await setup(t);
    const [a, b] = [await openApp(context), await openApp(context)];
    await publishAccepted(h, { recipients: [USER], type: 'alert', content: 'read me in tab A' });
    await publishAccepted(h, { recipients: [USER], type: 'alert', content: 'leave me unread' });
    for (const page of [a, b]) await waitFor(async () => (await count(page)) === '2', 'badge 2 in both tabs');

    await feedItem(a, 'read me in tab A').locator('[data-testid="mark-read"]').click();
    await waitFor(async () => (await count(b)) === '1', 'badge 1 in tab B');
    await waitFor(async () => (await feedItem(b, 'read me in tab A').getAttribute('data-status')) === 'read', 'tab B shows the item read');
    assert.equal(await feedItem(b, 'leave me unread').getAttribute('data-status'), 'unread');
  });

  test(`${example}: mark read in the feed reaches Herald`, async (t) => {
    const { h, context } = await setup(t);
    await publishAccepted(h, { recipients: [USER], type: 'alert', content: 'read me' });
    const page = await openApp(context);
    await waitFor(async () => (await count(page)) === '1', 'badge 1');

    await feedItem(page, 'read me').locator('[data-testid="mark-read"]').click();
    await waitFor(async () => (await feedItem(page, 'read me').getAttribute('data-status')) === 'read', 'the item shows read');
    await waitFor(async () => (await count(page)) === '0', 'badge 0');
    const res = await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${await h.token(USER)}` } });
    assert.deepEqual(await res.json(), { unread_count: 0 });
  });

  test(`${example}: <HeraldInbox> renders the bell with the count and lists the item in its panel`, async (t) => {
    const { h, context } = await setup(t);
    await publishAccepted(h, { recipients: [USER], type: 'alert', title: 'Welcome', content: 'from the bell' });
    const page = await openApp(context);
    await waitFor(async () => (await page.locator('herald-inbox [data-testid="unread-count"]').textContent()) === '1', 'the bell counts 1');
    await page.locator('herald-inbox [data-testid="bell"]').click();
    await page.locator('herald-inbox [data-testid="notification"]', { hasText: 'from the bell' }).waitFor();
  });

  test(`${example}: an item clicked in <HeraldInbox> reaches the app's open handler with its checked link, which it follows`, async (t) => {
    const { h, context } = await setup(t);
    await publishAccepted(h, { recipients: [USER], type: 'comment', content: 'on project 42', data: { url: '/projects/42' } });
    const page = await openApp(context);
    await page.locator('herald-inbox [data-testid="bell"]').click();
    await page.locator('herald-inbox [data-testid="notification"]', { hasText: 'on project 42' }).locator('[data-testid="open"]').click();
    await page.waitForURL(`${app.origin}/projects/42`);
  });

  test(`${example}: a new notification re-renders the badge and the feed, not the rest of the app`, async (t) => {
    const { h, context } = await setup(t);
    const page = await openApp(context);
    await page.locator('main [data-testid="empty"]').waitFor();
    const before = await renders(page);

    await publishAccepted(h, { recipients: [USER], type: 'alert', content: 'count the renders' });
    await feedItem(page, 'count the renders').waitFor({ timeout: 10_000 });
    await waitFor(async () => (await count(page)) === '1', 'badge 1');
    const rendered = await renders(page);
    assert.equal(rendered.UnreadBadge, (before.UnreadBadge ?? 0) + 1, 'the badge rendered once more');
    assert.equal(rendered.Feed, (before.Feed ?? 0) + 1, 'the feed rendered once more');
    assert.equal(rendered.App, before.App, 'the app did not re-render');
    assert.equal(rendered.Dashboard, before.Dashboard, 'the dashboard did not re-render');
  });

  test(`${example}: archiving a read item re-renders the feed but not the badge (the count is unchanged)`, async (t) => {
    const { h, context } = await setup(t);
    await publishAccepted(h, { recipients: [USER], type: 'alert', content: 'archive me' });
    const page = await openApp(context);
    await feedItem(page, 'archive me').locator('[data-testid="mark-read"]').click();
    await waitFor(async () => (await count(page)) === '0', 'badge 0');
    const before = await renders(page);

    await feedItem(page, 'archive me').locator('[data-testid="archive"]').click();
    await page.locator('main [data-testid="empty"]').waitFor();
    const rendered = await renders(page);
    assert.ok((rendered.Feed ?? 0) > (before.Feed ?? 0), 'the feed re-rendered');
    assert.equal(rendered.UnreadBadge, before.UnreadBadge, 'the badge did not re-render');
    assert.equal(rendered.App, before.App, 'the app did not re-render');
  });
}
