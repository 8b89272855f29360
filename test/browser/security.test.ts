// The inbox page against a real Chromium: the token leaves the address bar at once and lives
// on only in memory and the HttpOnly cookie; the page works under its CSP and cannot be framed.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { startHerald } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';
import { launchChromium } from './chromium.js';

const state = (page: Page, text: string) =>
  page.locator('[data-testid="connection-state"]', { hasText: new RegExp(`^${text}$`) });
const item = (page: Page, content: string) => page.locator('[data-testid="notification"]', { hasText: content });

test('a #token= link leaves the address bar at once; a reload finds the session through the HttpOnly cookie, not the URL', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  const token = await h.token('ivy', { scope: 'subscribe' });
  // Every URL the page is shown at (navigations and history.replaceState), in order.
  const shown: string[] = [];
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) shown.push(frame.url()); });

  await page.goto(`${h.url}/#token=${token}`);
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(page.url(), `${h.url}/`);
  assert.equal(await page.evaluate(() => location.hash), '');
  const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
  assert.ok(!stored.includes(token), 'the token is in script-readable storage');
  const cookies = await context.cookies(`${h.url}/v1/`);
  const session = cookies.find((c) => c.name === 'herald_token');
  assert.ok(session, 'the page traded the token for the session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');

  await page.reload();
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#user').textContent(), 'ivy');
  assert.equal(await page.locator('#login').isHidden(), true);
  assert.equal(await h.publish({ recipients: ['ivy'], type: 'alert', content: 'after the reload' }).then((r) => r.status), 202);
  await item(page, 'after the reload').waitFor({ timeout: 10_000 });
  // Marking read now rides on the cookie alone: the browser's Origin passes the check.
  await item(page, 'after the reload').locator('[data-testid="mark-read"]').click();
  await waitFor(async () => (await item(page, 'after the reload').getAttribute('data-status')) === 'read', 'the item to turn read');
  assert.equal(await page.locator('#error').isHidden(), true);
  // The first entry is the link itself; every URL the page showed after it is clean.
  assert.ok(shown.length >= 2 && shown.slice(1).every((url) => !url.includes('token')), shown.join('\n'));
});

test('the page works under its Content-Security-Policy and another site cannot frame it', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const framer = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>framer</title><iframe id="victim" src="${h.url}/"></iframe>`);
  });
  await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => { framer.closeAllConnections(); framer.close(() => resolve()); }));
  const address = framer.address();
  const framerUrl = `http://localhost:${typeof address === 'object' && address ? address.port : 0}/`;

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  const messages: string[] = [];
  page.on('console', (message) => messages.push(message.text()));
  page.on('pageerror', (err) => messages.push(err.message));
  await page.goto(`${h.url}/#token=${await h.token('judy', { scope: 'subscribe' })}`);
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(await h.publish({ recipients: ['judy'], type: 'alert', content: 'under CSP' }).then((r) => r.status), 202);
  await item(page, 'under CSP').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('[data-testid="unread-count"]').textContent(), '1');
  assert.deepEqual(messages.filter((m) => /Content Security Policy|Refused to/i.test(m)), []);

  const framed = await browser.newPage();
  const framedMessages: string[] = [];
  framed.on('console', (message) => framedMessages.push(message.text()));
  await framed.goto(framerUrl);
  await waitFor(() => framedMessages.some((m) => /frame-ancestors|X-Frame-Options/.test(m)), 'Chromium to refuse the frame');
  const frame = framed.frames().find((f) => f !== framed.mainFrame());
  assert.ok(!frame || (await frame.locator('#login-form').count().catch(() => 0)) === 0, 'the inbox rendered inside the frame');
});

/** A browser whose session cookie is alice's (she opened her own link), then opens `link`'s token. */
async function aliceOpens(t: import('node:test').TestContext, linkUser: string) {
  const h = await startHerald();
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${h.url}/#token=${await h.token('alice', { scope: 'subscribe' })}`);
  await state(page, 'open').waitFor({ timeout: 30_000 });
  await page.goto('about:blank');
  await page.goto(`${h.url}/#token=${await h.token(linkUser, { scope: 'subscribe' })}`);
  return { h, page };
}

const sessionUser = (page: Page) => page.evaluate(async () => ((await (await fetch('v1/session')).json()) as { user: string }).user);

test('a link with another user\'s token asks before it replaces the session, naming both accounts; staying keeps alice', async (t) => {
  const { page } = await aliceOpens(t, 'mallory');
  const prompt = page.getByTestId('session-switch');
  await prompt.waitFor({ timeout: 10_000 });
  assert.match(await prompt.innerText(), /signs you in as mallory\. You are signed in as alice\./);
  await page.getByTestId('switch-stay').click();
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#user').textContent(), 'alice');
  assert.equal(await sessionUser(page), 'alice');
});

test('a link with another user\'s token switches the session only when the user says so', async (t) => {
  const { page } = await aliceOpens(t, 'mallory');
  await page.getByTestId('switch-go').click();
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#user').textContent(), 'mallory');
  assert.equal(await sessionUser(page), 'mallory');
});

test('a link with the same user\'s token asks nothing', async (t) => {
  const { page } = await aliceOpens(t, 'alice');
  await state(page, 'open').waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId('session-switch').isVisible(), false);
  assert.equal(await page.locator('#user').textContent(), 'alice');
});
