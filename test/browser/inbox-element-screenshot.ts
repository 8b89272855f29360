// Takes the pictures of <herald-inbox> in docs/, each on a host page of another origin than
// Herald, with a few notifications:
//   docs/herald-inbox.png        the example page (client/examples/herald-inbox.html)
//   docs/herald-inbox-left.png   a header whose bell is at the left edge
//   docs/herald-inbox-phone.png  a phone (375×667): the panel as a sheet
// An explicit step, not part of the suite, so the committed pictures only change on purpose:
//   npm run build && node dist/test/browser/inbox-element-screenshot.js
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startHerald } from '../helpers/herald.js';
import { CHROMIUM_PATH } from './chromium.js';
import { bellPage, startHostApp } from './inbox-element-host.js';

const docs = (name: string) => fileURLToPath(new URL(`../../../docs/${name}`, import.meta.url));

// The avatar, served by the test itself (https addresses only; the machine has no other network).
const AVATAR_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="#8250df"/><text x="16" y="21" font-family="sans-serif" font-size="14" font-weight="700" fill="#fff" text-anchor="middle">D</text></svg>`;

// Oldest first: the alert with its actions is on top of the list.
const SAMPLES = [
  { type: 'deploy', title: 'Deploy finished', content: 'herald 0.3.0 is live in eu-west.' },
  { type: 'comment.mention', title: 'Dana mentioned you', content: 'Can you review the rollout plan before 3 pm?', data: { avatar: 'https://avatars.example.com/dana.svg' } },
  { type: 'alert', title: 'Disk almost full', content: 'db-2 is at 91 % of its volume.', data: { actions: [{ label: 'Open dashboard', url: 'https://grafana.example.com/d/db-2' }, { label: 'Silence 1 h', event: 'alert.silence' }] } },
];

const host = await startHostApp();
const h = await startHerald({ env: { HERALD_CORS_ORIGINS: host.origin } });
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--headless', '--no-sandbox', '--disable-gpu'] });

/** Publishes the samples to `user`, opens `path` in a window of `viewport`, reads one item, and takes the picture. */
async function picture(user: string, path: string, viewport: { width: number; height: number }, file: string): Promise<void> {
  for (const sample of SAMPLES) {
    const answer = await h.publish({ recipients: [user], ...sample });
    if (answer.status !== 202) throw new Error(`publish answered ${answer.status}`);
  }
  const context = await browser.newContext({ viewport, colorScheme: 'light', deviceScaleFactor: viewport.width < 480 ? 2 : 1 });
  await context.route('https://avatars.example.com/**', (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: AVATAR_SVG }));
  const page: Page = await context.newPage();
  await page.goto(`${host.origin}${path}`);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached' });
  await page.locator('herald-inbox [data-testid="unread-count"]', { hasText: /^3$/ }).waitFor({ state: 'attached' });
  await page.locator('herald-inbox [data-testid="bell"]').click();
  await page.locator('herald-inbox [role="dialog"][data-layout]').waitFor();
  await page.locator('herald-inbox [data-testid="notification"]', { hasText: 'herald 0.3.0' }).locator('[data-testid="mark-read"]').click();
  await page.locator('herald-inbox [data-testid="unread-count"]', { hasText: /^2$/ }).waitFor();
  await page.locator('herald-inbox img[data-testid="avatar"]').evaluate((img: HTMLImageElement) => img.decode());
  // The pointer would leave a hover highlight in the picture; so would the focus ring.
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.querySelector('herald-inbox')?.shadowRoot?.activeElement as HTMLElement | null)?.blur());
  await page.screenshot({ path: docs(file) });
  console.log(`wrote ${docs(file)}`);
  await context.close();
}

try {
  host.herald = h.url;
  host.mintToken = (url) => h.token(url.searchParams.get('user') ?? 'alice');
  host.addPage('/left', bellPage('bob', 'left'));
  host.addPage('/phone', bellPage('carol', 'phone'));
  await picture('alice', '/', { width: 900, height: 640 }, 'herald-inbox.png');
  await picture('bob', '/left', { width: 900, height: 640 }, 'herald-inbox-left.png');
  await picture('carol', '/phone', { width: 375, height: 667 }, 'herald-inbox-phone.png');
} finally {
  await browser.close();
  await h.stop();
  await host.close();
}
