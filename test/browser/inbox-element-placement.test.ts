// Where <herald-inbox>'s panel opens, on host pages of another origin that put the bell in
// the hard places: the left edge, the right edge, the bottom of a short window, a phone.
// Every control of the open panel must be inside the viewport and clickable. One Herald, one
// host app and one Chromium for the file; each test has its own user and browser context.
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
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
  h = await startHerald({ env: { HERALD_CORS_ORIGINS: host.origin } });
  host.herald = h.url;
  host.mintToken = (url) => h.token(url.searchParams.get('user') ?? 'nobody');
  browser = await startChromium();
});

after(async () => {
  await browser?.close();
  await h?.stop();
  await host?.close();
});

const panel = (page: Page) => page.locator('herald-inbox [role="dialog"]');
const badge = (page: Page) => page.locator('herald-inbox [data-testid="unread-count"]').textContent();

/**
 * `user`'s bell page at `position` in a window of `viewport`, with two unread notifications
 * (one with action buttons), the panel open and placed.
 */
async function openPanel(t: TestContext, user: string, position: BellPosition, viewport: { width: number; height: number }, attributes = ''): Promise<Page> {
  await publishAccepted(h, { recipients: [user], type: 'alert', title: 'Disk almost full', content: 'db-2 is at 91 % of its volume.' });
  await publishAccepted(h, {
    recipients: [user], type: 'build', title: 'Build failed', content: 'main is red since 10:42.',
    data: { actions: [{ label: 'Open build', url: 'https://ci.example.org/builds/7' }, { label: 'Retry', event: 'build.retry' }] },
  });
  host.addPage(`/${user}`, bellPage(user, position, attributes));
  const context = await browser.newContext({ viewport });
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${host.origin}/${user}`);
  await waitFor(async () => (await badge(page)) === '2', 'badge 2');
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await page.locator('herald-inbox [role="dialog"][data-layout]').waitFor();
  await page.locator('herald-inbox [data-testid="notification"]').nth(1).waitFor();
  return page;
}

type Box = { x: number; y: number; width: number; height: number };

function assertInside(box: Box | null, viewport: { width: number; height: number }, what: string): void {
  assert.ok(box, `${what} has a box`);
  const inside = box.x >= 0 && box.y >= 0 && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height;
  assert.ok(inside, `${what} ${JSON.stringify(box)} lies inside the ${viewport.width}×${viewport.height} viewport`);
}

/**
 * Every visible button and link of the open panel lies inside the viewport and takes a click
 * (a trial click: visible, stable, enabled, and the topmost element at its centre); then
 * "Mark all read", clicked for real, empties the badge.
 */
async function assertEveryControlReachable(page: Page): Promise<void> {
  const viewport = page.viewportSize() as { width: number; height: number };
  assertInside(await panel(page).boundingBox(), viewport, 'the panel');
  const controls = page.locator('herald-inbox [role="dialog"] :is(button, a[href]):visible');
  const count = await controls.count();
  assert.ok(count >= 10, `the panel shows its controls (${count})`);
  for (let i = 0; i < count; i += 1) {
    const control = controls.nth(i);
    const name = `${await control.evaluate((el) => el.getAttribute('data-testid') ?? el.className)} "${(await control.textContent())?.trim()}"`;
    assertInside(await control.boundingBox(), viewport, name);
    await control.click({ trial: true, timeout: 2_000 });
  }
  await page.locator('herald-inbox [data-testid="mark-all-read"]').click();
  await waitFor(async () => (await badge(page)) === '0', 'badge 0 after Mark all read');
}

test('bell at the left edge (1280×720): the panel opens inside the viewport, every control reachable', async (t) => {
  const page = await openPanel(t, 'left-edge', 'left', { width: 1280, height: 720 });
  const bell = (await page.locator('herald-inbox [data-testid="bell"]').boundingBox()) as Box;
  assert.ok(bell.x + bell.width / 2 < 40, `the bell sits at the left edge (x=${bell.x})`);
  assert.equal(await panel(page).getAttribute('data-layout'), 'popover');
  await assertEveryControlReachable(page);
});

test('bell at the right edge (1280×720): the panel opens inside the viewport, every control reachable', async (t) => {
  const page = await openPanel(t, 'right-edge', 'right', { width: 1280, height: 720 });
  const bell = (await page.locator('herald-inbox [data-testid="bell"]').boundingBox()) as Box;
  assert.ok(bell.x + bell.width > 1280 - 16, `the bell sits at the right edge (x=${bell.x})`);
  assert.equal(await panel(page).getAttribute('data-placement'), 'bottom-end');
  await assertEveryControlReachable(page);
});

test('bell at the bottom of a short viewport (1024×480): the panel flips above it, every control reachable', async (t) => {
  const page = await openPanel(t, 'bottom-edge', 'bottom', { width: 1024, height: 480 });
  const bell = (await page.locator('herald-inbox [data-testid="bell"]').boundingBox()) as Box;
  assert.ok(bell.y > 480 - 60, `the bell sits at the bottom (y=${bell.y})`);
  assert.match((await panel(page).getAttribute('data-placement')) ?? '', /^top/);
  const box = (await panel(page).boundingBox()) as Box;
  assert.ok(box.y + box.height <= bell.y, 'the panel is above the bell, not over it');
  await assertEveryControlReachable(page);
});

test('a phone (375×667): the panel is a full-width sheet at the bottom, every control reachable', async (t) => {
  const page = await openPanel(t, 'phone-sheet', 'phone', { width: 375, height: 667 });
  assert.equal(await panel(page).getAttribute('data-layout'), 'sheet');
  const box = (await panel(page).boundingBox()) as Box;
  assert.deepEqual([box.x, box.width, Math.round(box.y + box.height)], [0, 375, 667], 'full width, on the bottom edge');
  await assertEveryControlReachable(page);
});

test('on a phone, the page behind the sheet is dimmed and a tap on it closes the sheet, not what lies beneath', async (t) => {
  const page = await openPanel(t, 'phone-scrim', 'phone', { width: 375, height: 667 });
  await page.evaluate(() => {
    document.querySelector('main')?.addEventListener('click', () => { (window as unknown as { pageClicked: boolean }).pageClicked = true; });
  });
  const scrim = page.locator('herald-inbox [data-testid="scrim"]');
  assert.equal(await scrim.isVisible(), true);
  await page.mouse.click(187, 120);
  await panel(page).waitFor({ state: 'hidden' });
  assert.equal(await scrim.isVisible(), false);
  assert.equal(await page.evaluate(() => (window as unknown as { pageClicked?: boolean }).pageClicked ?? false), false);
});

test('the placement attribute puts the panel on the side the host wants', async (t) => {
  // By default this bell's panel would open above it; the host wants it to its left.
  const page = await openPanel(t, 'placement-left-end', 'bottom', { width: 1024, height: 720 }, 'placement="left-end"');
  assert.equal(await panel(page).getAttribute('data-placement'), 'left-end');
  const bell = (await page.locator('herald-inbox [data-testid="bell"]').boundingBox()) as Box;
  const box = (await panel(page).boundingBox()) as Box;
  assert.ok(box.x + box.width <= bell.x, 'left of the bell');
  // Bottom edges lined up, as far as the 8 px margin to the window's edge allows.
  assert.ok(Math.abs(box.y + box.height - (bell.y + bell.height)) <= 8, `bottom at ${box.y + box.height}, bell's at ${bell.y + bell.height}`);
});

test('the panel follows its bell when the page scrolls', async (t) => {
  const page = await openPanel(t, 'scrolling', 'right', { width: 1024, height: 500 });
  await page.evaluate(() => { document.body.style.minHeight = '3000px'; });
  const gap = async () => {
    const bell = (await page.locator('herald-inbox [data-testid="bell"]').boundingBox()) as Box;
    const box = (await panel(page).boundingBox()) as Box;
    return { bellY: Math.round(bell.y), gap: Math.round(box.y - (bell.y + bell.height)) };
  };
  const before = await gap();
  await page.evaluate(() => scrollTo(0, 30));
  await waitFor(async () => {
    const now = await gap();
    return now.bellY === before.bellY - 30 && now.gap === before.gap;
  }, 'the panel moved with the bell');
});

test('narrowing the window below 480 px turns the open panel into a sheet, and back', async (t) => {
  const page = await openPanel(t, 'resizing', 'right', { width: 900, height: 700 });
  assert.equal(await panel(page).getAttribute('data-layout'), 'popover');
  await page.setViewportSize({ width: 470, height: 700 });
  await page.locator('herald-inbox [role="dialog"][data-layout="sheet"]').waitFor();
  await page.setViewportSize({ width: 900, height: 700 });
  await page.locator('herald-inbox [role="dialog"][data-layout="popover"]').waitFor();
  assertInside(await panel(page).boundingBox(), { width: 900, height: 700 }, 'the panel');
});
