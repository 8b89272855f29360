// <herald-inbox> on a host page of another origin (client/examples/herald-inbox.html served
// by a tiny app on another port), against a real Herald, in real Chromium. One Chromium, host
// app and Herald serve the file; the tests that restart Herald or count its connections
// start their own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test, type TestContext } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startHerald, type HeraldProcess } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { waitFor } from '../helpers/wait.js';
import { startChromium } from './chromium.js';
import { startHostApp, type HostApp } from './inbox-element-host.js';

const MAX_GZIPPED_BYTES = 25 * 1024;

interface Setup {
  h: HeraldProcess;
  host: HostApp;
  context: BrowserContext;
}

let browser: Browser;
let shared: { h: HeraldProcess; host: HostApp };

/** A host app and a Herald that lets it in by CORS. */
async function startHostAndHerald(): Promise<{ h: HeraldProcess; host: HostApp }> {
  const host = await startHostApp();
  const h = await startHerald({ env: { HERALD_CORS_ORIGINS: host.origin } }).catch(async (err: unknown) => {
    await host.close();
    throw err;
  });
  host.herald = h.url;
  return { h, host };
}

before(async () => {
  browser = await startChromium();
  shared = await startHostAndHerald();
});

after(async () => {
  await browser?.close();
  await shared?.h.stop();
  await shared?.host.close();
});

/**
 * A browser context on the file's host app and Herald (`own`: on a host app and Herald of the
 * test's own, for a test that restarts Herald or counts its streams); `user`'s tokens come
 * from the app.
 */
async function setup(t: TestContext, user: string, options: { colorScheme?: 'light' | 'dark'; own?: boolean } = {}): Promise<Setup> {
  let { h, host } = shared;
  if (options.own) {
    ({ h, host } = await startHostAndHerald());
    t.after(async () => {
      await h.stop();
      await host.close();
    });
  }
  host.mintToken = () => h.token(user);
  host.tokenRequests = 0;
  const context = await browser.newContext({ viewport: { width: 900, height: 640 }, colorScheme: options.colorScheme ?? 'light' });
  t.after(() => context.close());
  return { h, host, context };
}

// Playwright's CSS locators pierce open shadow roots: these find the parts inside the element.
const state = (page: Page, text: string) =>
  page.locator('herald-inbox [data-testid="connection-state"]', { hasText: new RegExp(`^${text}$`) });
const badge = (page: Page) => page.locator('herald-inbox [data-testid="unread-count"]').textContent();
const item = (page: Page, content: string) => page.locator('herald-inbox [data-testid="notification"]', { hasText: content });
const panel = (page: Page) => page.locator('herald-inbox [role="dialog"]');

/** Opens the host page and waits for the element's stream (the panel is closed: its parts are attached, not visible). */
async function openHostPage(context: BrowserContext, host: HostApp, path = '/'): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
  await page.goto(`${host.origin}${path}`);
  await state(page, 'open').first().waitFor({ state: 'attached', timeout: 30_000 });
  return page;
}

/** The data-testid of what has focus inside the element's shadow root. */
const focused = (page: Page) =>
  page.evaluate(() => document.querySelector('herald-inbox')?.shadowRoot?.activeElement?.getAttribute('data-testid') ?? null);

test('GET /herald-inbox.js is a JavaScript module any origin may load, under 25 KiB gzipped', async () => {
  const { h } = shared;
  const res = await fetch(`${h.url}/herald-inbox.js`, { headers: { origin: 'http://app.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const body = Buffer.from(await res.arrayBuffer());
  assert.match(body.toString(), /herald-inbox/);
  const gzipped = gzipSync(body, { level: 9 }).length;
  console.log(`# /herald-inbox.js: ${body.length} bytes, ${gzipped} bytes gzipped`);
  assert.ok(gzipped < MAX_GZIPPED_BYTES, `gzipped ${gzipped} bytes`);
});

test('the bell shows the unread count in its badge and its accessible name', async (t) => {
  const { h, host, context } = await setup(t, 'erin');
  for (const content of ['one', 'two', 'three']) await publishAccepted(h, { recipients: ['erin'], type: 'alert', content });
  const page = await openHostPage(context, host);
  await waitFor(async () => (await badge(page)) === '3', 'badge 3');
  await page.getByRole('button', { name: 'Notifications, 3 unread' }).waitFor();
  assert.equal(await page.title(), '(3) Acme dashboard', 'the example page follows herald-unread-change');
});

test('a publish appears live in the open panel', async (t) => {
  const { h, host, context } = await setup(t, 'frank');
  const page = await openHostPage(context, host);
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await panel(page).waitFor();
  await page.locator('herald-inbox [part="empty"]', { hasText: 'No notifications' }).waitFor();

  await publishAccepted(h, { recipients: ['frank'], type: 'deploy', title: 'Deploy finished', content: 'herald is live in eu-west' });
  await item(page, 'herald is live in eu-west').waitFor({ timeout: 10_000 });
  assert.equal(await item(page, 'herald is live in eu-west').getAttribute('data-status'), 'unread');
  assert.equal(await badge(page), '1');
  await page.locator('herald-inbox [data-testid="announcer"]', { hasText: 'New notification: Deploy finished' }).waitFor({ state: 'attached' });
});

test('mark-read in one tab updates the element in a second tab', async (t) => {
  const { h, host, context } = await setup(t, 'gina');
  const [a, b] = [await openHostPage(context, host), await openHostPage(context, host)];
  await publishAccepted(h, { recipients: ['gina'], type: 'alert', content: 'read me in tab A' });
  await publishAccepted(h, { recipients: ['gina'], type: 'alert', content: 'leave me unread' });
  for (const page of [a, b]) await waitFor(async () => (await badge(page)) === '2', 'badge 2 in both tabs');

  await a.locator('herald-inbox [data-testid="bell"]').click();
  await item(a, 'read me in tab A').locator('[data-testid="mark-read"]').click();
  await waitFor(async () => (await item(b, 'read me in tab A').getAttribute('data-status')) === 'read', 'tab B sees the item read');
  await waitFor(async () => (await badge(b)) === '1', 'badge 1 in tab B');
  assert.equal(await item(b, 'leave me unread').getAttribute('data-status'), 'unread');
  assert.equal(await badge(a), '1');
});

test('mark-all-read empties the badge in both tabs', async (t) => {
  const { h, host, context } = await setup(t, 'hugo');
  const [a, b] = [await openHostPage(context, host), await openHostPage(context, host)];
  for (const content of ['first', 'second']) await publishAccepted(h, { recipients: ['hugo'], type: 'alert', content });
  for (const page of [a, b]) await waitFor(async () => (await badge(page)) === '2', 'badge 2 in both tabs');

  await a.locator('herald-inbox [data-testid="bell"]').click();
  await a.locator('herald-inbox [data-testid="mark-all-read"]').click();
  for (const page of [a, b]) await waitFor(async () => (await badge(page)) === '0', 'badge 0 in both tabs');
  assert.equal(await b.locator('herald-inbox [data-testid="notification"][data-status="read"]').count(), 2);
  await a.getByRole('button', { name: 'Notifications, 0 unread' }).waitFor();
});

test('two elements on a page and a second tab share one stream to Herald', async (t) => {
  const { h, host, context } = await setup(t, 'ivy', { own: true });
  host.addPage('/two', `<!doctype html><html lang="en"><title>Two bells</title>
<script type="module" src="http://127.0.0.1:8080/herald-inbox.js"></script>
<herald-inbox id="top" server="http://127.0.0.1:8080"></herald-inbox>
<herald-inbox id="side" server="http://127.0.0.1:8080"></herald-inbox>
<script type="module">
  for (const el of document.querySelectorAll('herald-inbox')) el.tokenProvider = async () => (await fetch('/herald-token')).text();
</script></html>`);
  const two = await openHostPage(context, host, '/two');
  await state(two, 'open').nth(1).waitFor({ state: 'attached' });
  const other = await openHostPage(context, host);
  await publishAccepted(h, { recipients: ['ivy'], type: 'alert', content: 'to every bell' });
  await waitFor(async () => (await two.locator('#side [data-testid="unread-count"]').textContent()) === '1', 'the second element counts it');
  await waitFor(async () => (await two.locator('#top [data-testid="unread-count"]').textContent()) === '1', 'the first element counts it');
  await waitFor(async () => (await badge(other)) === '1', 'the other tab counts it');
  assert.equal(await h.connections(), 1);
});

test('the element reconnects after a Herald restart and shows what was missed once', async (t) => {
  const { h, host, context } = await setup(t, 'jack', { own: true });
  const page = await openHostPage(context, host);
  await publishAccepted(h, { recipients: ['jack'], type: 'alert', content: 'before the crash' });
  await item(page, 'before the crash').waitFor({ state: 'attached' });

  await h.kill('SIGKILL');
  await state(page, 'reconnecting').waitFor({ state: 'attached', timeout: 10_000 });
  await h.restart();
  await publishAccepted(h, { recipients: ['jack'], type: 'alert', content: 'while it was down' });
  await state(page, 'open').waitFor({ state: 'attached', timeout: 30_000 });
  await item(page, 'while it was down').waitFor({ state: 'attached', timeout: 10_000 });
  assert.equal(await item(page, 'while it was down').count(), 1);
  assert.equal(await item(page, 'before the crash').count(), 1);
  assert.equal(await badge(page), '2');
});

test('herald-notification fires once per notification, also across a reconnect', async (t) => {
  const { h, host, context } = await setup(t, 'kate', { own: true });
  await context.addInitScript(() => {
    const w = window as unknown as { arrivals: string[] };
    w.arrivals = [];
    // Composed and bubbling: the host page can listen anywhere above the element.
    document.addEventListener('herald-notification', (event) => {
      w.arrivals.push((event as CustomEvent<{ notification: { content: string } }>).detail.notification.content);
    });
  });
  const page = await openHostPage(context, host);
  const arrivals = () => page.evaluate(() => (window as unknown as { arrivals: string[] }).arrivals);
  for (const content of ['a', 'b', 'c']) await publishAccepted(h, { recipients: ['kate'], type: 'alert', content });
  await waitFor(async () => (await arrivals()).length === 3, 'three herald-notification events');

  // A reconnect replays from the cursor and refetches the list: neither may announce again.
  await h.restart();
  await state(page, 'open').waitFor({ state: 'attached', timeout: 30_000 });
  await publishAccepted(h, { recipients: ['kate'], type: 'alert', content: 'd' });
  await waitFor(async () => (await arrivals()).includes('d'), 'the fourth event');
  assert.deepEqual(await arrivals(), ['a', 'b', 'c', 'd']);
});

test('herald-click carries the notification and the example page navigates to data.url', async (t) => {
  const { h, host, context } = await setup(t, 'liam');
  const page = await openHostPage(context, host);
  await publishAccepted(h, { recipients: ['liam'], type: 'comment', title: 'New comment', content: 'on project 42', data: { url: '/projects/42' } });
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await item(page, 'on project 42').locator('[data-testid="open"]').click();
  await page.waitForURL(`${host.origin}/projects/42`);
  // Clicking an item also marks it read unless the host cancels the event.
  await waitFor(async () => {
    const res = await fetch(`${h.url}/v1/notifications/unread-count`, { headers: { authorization: `Bearer ${await h.token('liam')}` } });
    return ((await res.json()) as { unread_count: number }).unread_count === 0;
  }, 'the clicked item read');
});

/** Clicks the item holding `content` on the example page and answers the herald-click event's href. */
async function clickedHref(page: Page, content: string): Promise<string | undefined> {
  // Reported through a binding: the example page may navigate away at once.
  let report: (href: string | undefined) => void = () => {};
  const reported = new Promise<string | undefined>((resolve) => { report = resolve; });
  await page.exposeFunction('reportHref', (href: string | null) => report(href ?? undefined));
  await page.evaluate(() => {
    const send = (window as unknown as { reportHref: (href: string | null) => void }).reportHref;
    document.querySelector('herald-inbox')?.addEventListener('herald-click', (e) => send((e as CustomEvent<{ href?: string }>).detail.href ?? null), { once: true });
  });
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await item(page, content).locator('[data-testid="open"]').click();
  return reported;
}

test('a javascript: data.url runs nothing on the example page: detail.href is undefined and the page stays', async (t) => {
  const { h, host, context } = await setup(t, 'mia');
  const page = await openHostPage(context, host);
  await publishAccepted(h, { recipients: ['mia'], type: 'comment', content: 'click me', data: { url: 'javascript:window.pwned=document.cookie||1' } });
  assert.equal(await clickedHref(page, 'click me'), undefined);
  assert.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined);
  assert.equal(page.url(), `${host.origin}/`);
});

test('an https data.url on another origin is handed over as detail.href when the host allows any origin', async (t) => {
  const { h, host, context } = await setup(t, 'noah');
  // The link's target, served here: the machine has no other network.
  await context.route('https://docs.example.org/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>docs</title>' }));
  const page = await openHostPage(context, host);
  await publishAccepted(h, { recipients: ['noah'], type: 'comment', content: 'read the docs', data: { url: 'https://docs.example.org/guide' } });
  assert.equal(await clickedHref(page, 'read the docs'), 'https://docs.example.org/guide');
  await page.waitForURL('https://docs.example.org/guide');
});

test('with allowed-origins="self", a data.url to another origin gives no href and no navigation', async (t) => {
  const { h, host, context } = await setup(t, 'olga');
  const page = await openHostPage(context, host);
  await page.evaluate(() => document.querySelector('herald-inbox')?.setAttribute('allowed-origins', 'self'));
  await publishAccepted(h, { recipients: ['olga'], type: 'comment', content: 'phish', data: { url: 'https://evil.example/login' } });
  assert.equal(await clickedHref(page, 'phish'), undefined);
  assert.equal(page.url(), `${host.origin}/`);
});

test('keyboard only: Tab to the bell, Enter opens the panel, mark an item read, Escape closes', async (t) => {
  const { h, host, context } = await setup(t, 'maya');
  await publishAccepted(h, { recipients: ['maya'], type: 'alert', title: 'Disk almost full', content: 'db-2 is at 91 %' });
  const page = await openHostPage(context, host);
  await waitFor(async () => (await badge(page)) === '1', 'badge 1');

  for (let presses = 0; (await focused(page)) !== 'bell'; presses += 1) {
    assert.ok(presses < 5, 'the bell is reachable with Tab');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await panel(page).waitFor();
  assert.equal(await page.locator('herald-inbox [data-testid="bell"]').getAttribute('aria-expanded'), 'true');
  for (let presses = 0; (await focused(page)) !== 'mark-read'; presses += 1) {
    assert.ok(presses < 6, 'mark-read is reachable with Tab inside the panel');
    await page.keyboard.press('Tab');
  }
  await page.keyboard.press('Enter');
  await waitFor(async () => (await item(page, 'db-2 is at 91 %').getAttribute('data-status')) === 'read', 'the item read');
  await waitFor(async () => (await badge(page)) === '0', 'badge 0');
  assert.equal(await focused(page), 'mark-unread', 'focus stays on the toggled button');

  await page.keyboard.press('Escape');
  await panel(page).waitFor({ state: 'hidden' });
  assert.equal(await focused(page), 'bell', 'Escape gives focus back to the bell');
});

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown }[];
}

/** Runs axe-core on the page (shadow roots included) and answers its serious and critical violations. */
async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function openPanelWithItems(t: TestContext, user: string, colorScheme: 'light' | 'dark'): Promise<Page> {
  const { h, host, context } = await setup(t, user, { colorScheme });
  await publishAccepted(h, { recipients: [user], type: 'alert', title: 'Disk almost full', content: 'db-2 is at 91 % of its volume.' });
  await publishAccepted(h, { recipients: [user], type: 'comment.mention', content: 'Dana mentioned you in the rollout plan' });
  const page = await openHostPage(context, host);
  await waitFor(async () => (await badge(page)) === '2', 'badge 2');
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await item(page, 'Dana mentioned you').locator('[data-testid="mark-read"]').click();
  await waitFor(async () => (await badge(page)) === '1', 'badge 1');
  return page;
}

test('axe finds no serious or critical violation with the panel open (light)', async (t) => {
  const page = await openPanelWithItems(t, 'nina', 'light');
  const violations = await seriousViolations(page);
  assert.deepEqual(violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`), []);
});

test('axe finds no serious or critical violation with the panel open (dark)', async (t) => {
  const page = await openPanelWithItems(t, 'owen', 'dark');
  const violations = await seriousViolations(page);
  assert.deepEqual(violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`), []);
});

test('tokenProvider is asked again when the token expires, and the element stays live', async (t) => {
  const { h, host, context } = await setup(t, 'pia');
  // The first token lives 3 s; Herald ends the stream with auth-expired when it does.
  host.mintToken = () => h.token('pia', { ttlS: host.tokenRequests <= 1 ? 3 : 3600 });
  const page = await openHostPage(context, host);
  const before = host.tokenRequests;
  await waitFor(() => host.tokenRequests > before, 'a second token request', 15_000);
  await state(page, 'open').waitFor({ state: 'attached', timeout: 30_000 });
  await publishAccepted(h, { recipients: ['pia'], type: 'alert', content: 'after the new token' });
  await item(page, 'after the new token').waitFor({ state: 'attached', timeout: 10_000 });
  assert.equal(await badge(page), '1');
});

test('the token property works when set before the element is defined, and a fresh token keeps the stream', async (t) => {
  const { h, host, context } = await setup(t, 'quinn');
  // A classic script runs before the deferred module defines the element: the value lands
  // on the plain element and must survive its upgrade.
  host.addPage('/fixed', `<!doctype html><html lang="en"><title>Fixed token</title>
<script type="module" src="http://127.0.0.1:8080/herald-inbox.js"></script>
<herald-inbox server="http://127.0.0.1:8080"></herald-inbox>
<script>document.querySelector('herald-inbox').token = ${JSON.stringify(await h.token('quinn'))};</script></html>`);
  await publishAccepted(h, { recipients: ['quinn'], type: 'alert', content: 'already there' });
  const page = await openHostPage(context, host, '/fixed');
  await waitFor(async () => (await badge(page)) === '1', 'badge 1');

  await page.evaluate(() => {
    const w = window as unknown as { states: string[] };
    w.states = [];
    const state = document.querySelector('herald-inbox')?.shadowRoot?.querySelector('[data-testid="connection-state"]') as HTMLElement;
    new MutationObserver(() => w.states.push(state.textContent ?? '')).observe(state, { childList: true, characterData: true, subtree: true });
  });
  const fresh = await h.token('quinn', { ttlS: 7200 });
  await page.evaluate((token) => {
    (document.querySelector('herald-inbox') as HTMLElement & { token: string }).token = token;
  }, fresh);
  await publishAccepted(h, { recipients: ['quinn'], type: 'alert', content: 'after the fresh token' });
  await item(page, 'after the fresh token').waitFor({ state: 'attached', timeout: 10_000 });
  assert.deepEqual(await page.evaluate(() => (window as unknown as { states: string[] }).states), []);
  assert.equal(await badge(page), '2');
});
