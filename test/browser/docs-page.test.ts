// The API reference page (/docs) in a real Chromium: it renders under the same
// Content-Security-Policy as every other answer of Herald, not a weaker one of its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { launchChromium } from './chromium.js';

test('/docs carries Herald\'s own CSP (no https: sources, framing refused) and renders under it with no script blocked', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const page = await fetch(`${h.url}/docs/`);
  await page.body?.cancel();
  const root = await fetch(`${h.url}/`);
  await root.body?.cancel();
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.equal(csp, root.headers.get('content-security-policy'), 'the same policy as the inbox page');
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /https:/);

  const browser = await launchChromium(t);
  const tab = await browser.newPage();
  const violations: string[] = [];
  // Swagger UI sets one inline style attribute, which the policy blocks: cosmetic. A blocked
  // script or connection would break the page.
  tab.on('console', (message) => { if (/Content Security Policy directive '(script|connect|default)-src/i.test(message.text())) violations.push(message.text()); });
  await tab.goto(`${h.url}/docs/`);
  await tab.locator('.opblock-summary-path', { hasText: '/v1/notifications' }).first().waitFor({ timeout: 15_000 });
  assert.deepEqual(violations, []);
});
