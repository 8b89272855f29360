import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { startHerald } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';
import { launchChromium } from './chromium.js';

/** Publishes through the API and insists on 202 (durable). */
const state = (page: Page, text: string) =>
  page.locator('[data-testid="connection-state"]', { hasText: new RegExp(`^${text}$`) });
const item = (page: Page, content: string) => page.locator('[data-testid="notification"]', { hasText: content });

test('kill -9 and restart: the page shows reconnecting, then open, and what was missed appears once', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${h.url}/#token=${await h.token('dave')}`);
  await state(page, 'open').waitFor({ timeout: 30_000 });

  await publishAccepted(h, { recipients: ['dave'], type: 'alert', content: 'before the crash' });
  await item(page, 'before the crash').waitFor();

  await h.kill('SIGKILL');
  await state(page, 'reconnecting').waitFor({ timeout: 10_000 });
  await h.restart();
  // Published as soon as Herald is back, while the page is still in its backoff or resuming.
  await publishAccepted(h, { recipients: ['dave'], type: 'alert', content: 'while it was down' });
  await state(page, 'open').waitFor({ timeout: 30_000 });
  await item(page, 'while it was down').waitFor({ timeout: 10_000 });

  assert.equal(await item(page, 'while it was down').count(), 1);
  assert.equal(await item(page, 'before the crash').count(), 1);
  assert.equal(await page.locator('[data-testid="unread-count"]').textContent(), '2');
});
