// A page whose origin Herald does not list in HERALD_CORS_ORIGINS: Chromium refuses the
// requests after Herald's 403 preflight and tells the page only "Failed to fetch". The SDK and
// <herald-inbox> then say what to set; from a listed origin nothing of the kind appears.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';
import { launchChromium } from './chromium.js';
import { startHostApp, type HostApp } from './inbox-element-host.js';

/** A host app on its own origin and a Herald that lists `listed(host)` (or another origin). */
async function setup(t: TestContext, listHost: boolean): Promise<{ h: HeraldProcess; host: HostApp; page: Page }> {
  const host = await startHostApp();
  t.after(() => host.close());
  // Misconfigured as it would be in life: some origin is listed, not this page's.
  const h = await startHerald({ env: { HERALD_CORS_ORIGINS: listHost ? host.origin : 'https://app.example.com' } });
  t.after(() => h.stop());
  host.herald = h.url;
  host.mintToken = () => h.token('nora');
  host.addPage('/blank', '<!doctype html><html lang="en"><title>Blank</title></html>');
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
  return { h, host, page };
}

interface Seen { state: string; errors: Array<{ code: string; message: string }>; listed: string }

/** Starts the SDK on the page (loaded from Herald, as a page without a bundler does) and lists the inbox. */
async function startSdk(page: Page, herald: string, token: string): Promise<void> {
  await page.evaluate(async ({ herald, token }) => {
    const { createHeraldClient } = await import(`${herald}/herald-client.js`);
    const seen: Seen = { state: 'closed', errors: [], listed: '' };
    (window as unknown as { seen: Seen }).seen = seen;
    const { stream, inbox } = createHeraldClient({ url: herald, getToken: () => token, minDelayMs: 200, maxDelayMs: 500 });
    stream.on('state', ({ newState }: { newState: string }) => { seen.state = newState; });
    stream.on('error', (err: { code: string; message: string }) => { seen.errors.push({ code: err.code, message: err.message }); });
    stream.start();
    await inbox.list().then(
      (page: { items: unknown[] }) => { seen.listed = `${page.items.length} items`; },
      (err: { code: string; message: string }) => { seen.listed = `${err.code}: ${err.message}`; },
    );
  }, { herald, token });
}

const seenOn = (page: Page) => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
const hint = (h: HeraldProcess, host: HostApp) =>
  `Could not reach Herald at ${h.url} from ${host.origin} (Failed to fetch): if Herald runs, add ${host.origin} to HERALD_CORS_ORIGINS`;

test('from an unlisted origin the SDK\'s error event and inbox calls say to add the page\'s origin to HERALD_CORS_ORIGINS', async (t) => {
  const { h, host, page } = await setup(t, false);
  await page.goto(`${host.origin}/blank`);
  await startSdk(page, h.url, await h.token('nora'));
  await waitFor(async () => (await seenOn(page)).errors.length > 0, 'the stream to report an error');
  const seen = await seenOn(page);
  assert.deepEqual(seen.errors[0], { code: 'network_error', message: hint(h, host) });
  assert.equal(seen.listed, `network_error: ${hint(h, host)}`);
  assert.notEqual(seen.state, 'open');
});

test('from an unlisted origin <herald-inbox> shows what to set in its error area', async (t) => {
  const { h, host, page } = await setup(t, false);
  await page.goto(host.origin);
  const error = page.locator('herald-inbox [part="error"]');
  await waitFor(async () => (await error.textContent())?.includes('HERALD_CORS_ORIGINS'), 'the element to show the hint', 15_000);
  // The stream's own report (the inbox list's failure is prefixed "Could not load notifications").
  await waitFor(async () => (await error.textContent()) === hint(h, host), `the stream's hint, not "${await error.textContent()}"`, 15_000);
  assert.equal(await error.getAttribute('role'), 'alert');
  assert.equal(await error.evaluate((el) => (el as HTMLElement).hidden), false);
});

test('control: from a listed origin the SDK and the element open their streams and report no error', async (t) => {
  const { h, host, page } = await setup(t, true);
  await page.goto(host.origin);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached', timeout: 30_000 });
  await startSdk(page, h.url, await h.token('nora'));
  await waitFor(async () => (await seenOn(page)).state === 'open', 'the SDK stream to open');
  const seen = await seenOn(page);
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.listed, '0 items');
  const error = page.locator('herald-inbox [part="error"]');
  assert.equal(await error.textContent(), '');
  assert.equal(await error.evaluate((el) => (el as HTMLElement).hidden), true);
});
