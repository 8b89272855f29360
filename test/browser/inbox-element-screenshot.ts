// Takes docs/herald-inbox.png: <herald-inbox> open on the example host page (another origin
// than Herald), with a few notifications. An explicit step, not part of the suite, so the
// committed picture only changes on purpose:
//   npm run build && node dist/test/browser/inbox-element-screenshot.js
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startHerald } from '../helpers/herald.js';
import { CHROMIUM_PATH } from './chromium.js';
import { startHostApp } from './inbox-element-host.js';

const OUT = fileURLToPath(new URL('../../../docs/herald-inbox.png', import.meta.url));

const host = await startHostApp();
const h = await startHerald({ env: { HERALD_CORS_ORIGINS: host.origin } });
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
try {
  host.herald = h.url;
  host.mintToken = () => h.token('alice');
  const samples = [
    { type: 'comment.mention', title: 'Dana mentioned you', content: 'Can you review the rollout plan before 3 pm?' },
    { type: 'deploy', title: 'Deploy finished', content: 'herald 0.1.0 is live in eu-west.' },
    { type: 'alert', title: 'Disk almost full', content: 'db-2 is at 91 % of its volume.' },
  ];
  for (const sample of samples) {
    const answer = await h.publish({ recipients: ['alice'], ...sample });
    if (answer.status !== 202) throw new Error(`publish answered ${answer.status}`);
  }
  const page = await browser.newPage({ viewport: { width: 900, height: 560 }, colorScheme: 'light' });
  await page.goto(host.origin);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached' });
  await page.locator('herald-inbox [data-testid="unread-count"]', { hasText: /^3$/ }).waitFor({ state: 'attached' });
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await page.locator('herald-inbox [data-testid="notification"]', { hasText: 'herald 0.1.0' }).locator('[data-testid="mark-read"]').click();
  await page.locator('herald-inbox [data-testid="unread-count"]', { hasText: /^2$/ }).waitFor();
  // The pointer would leave a hover highlight in the picture.
  await page.mouse.move(0, 0);
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await h.stop();
  await host.close();
}
