import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { mintToken } from '../../src/auth/jwt.js';
import { devSecretPath } from '../../src/dev-secret.js';
import { startHerald } from '../helpers/herald.js';
import { launchChromium } from './chromium.js';

test('in development mode the page mints a token for a typed-in user name and never writes it in the URL', async (t) => {
  const h = await startHerald({ env: { HERALD_DEV_MODE: 'true', HERALD_JWT_SECRET: undefined } });
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage({ viewport: { width: 375, height: 700 } });
  const requested: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  await page.goto(`${h.url}/`);
  await page.locator('#user-name').fill('frank');
  await page.locator('#login-form button[type="submit"]').click();
  await page.locator('[data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ timeout: 30_000 });
  await page.locator('#empty').waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).hash, '');
  assert.ok(!page.url().includes('token'), page.url());

  // Development mode signs with its own generated secret (no key may be configured beside it).
  const devSecret = readFileSync(devSecretPath(h.env.HERALD_DATABASE_URL ?? ''), 'utf8').trim();
  const publishToken = await mintToken(devSecret, { sub: 'publisher', scope: 'publish' });
  const answer = await h.publish({ recipients: ['frank'], type: 'welcome', title: 'Hello Frank', content: 'Your inbox works.' }, publishToken);
  assert.equal(answer.status, 202);
  await page.locator('[data-testid="notification"]', { hasText: 'Your inbox works.' }).waitFor();
  assert.equal(await page.locator('[data-testid="unread-count"]').textContent(), '1');
  // The token travels in headers only: no request URL carries it.
  assert.ok(requested.every((url) => !/token=|access_token=|eyJ/.test(url.replace(/#.*$/, ''))), requested.join('\n'));
});

test('without development mode the login form explains how to open the page', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${h.url}/`);
  await page.locator('#user-name').fill('grace');
  await page.locator('#login-form button[type="submit"]').click();
  await page.locator('#login-form .error', { hasText: '#token=' }).waitFor();
  assert.equal(await page.locator('[data-testid="connection-state"]').textContent(), 'closed');
});
