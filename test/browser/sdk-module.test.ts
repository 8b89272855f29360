// A page without a bundler imports the SDK from Herald itself (GET /herald-client.js) and
// receives a notification in Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHerald } from '../helpers/herald.js';
import { waitFor } from '../helpers/wait.js';
import { launchChromium } from './chromium.js';

test('a page imports /herald-client.js as an ES module and receives a published notification', async (t) => {
  const h = await startHerald();
  t.after(() => h.stop());
  const res = await fetch(`${h.url}/herald-client.js`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(await res.text(), /createHeraldClient/);

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  await page.goto(`${h.url}/healthz`);
  const token = await h.token('alice');
  await page.evaluate(async ({ token, path }) => {
    const { createHeraldClient } = await import(path);
    const w = window as unknown as { seen: string[]; state: string };
    w.seen = [];
    const { stream } = createHeraldClient({ url: location.origin, getToken: () => token });
    stream.on('state', ({ newState }: { newState: string }) => { w.state = newState; });
    stream.on('notification', (n: { content: string }) => { w.seen.push(n.content); });
    stream.start();
  }, { token, path: '/herald-client.js' });
  await waitFor(async () => (await page.evaluate(() => (window as unknown as { state: string }).state)) === 'open', 'the stream to open');
  assert.equal((await h.publish({ recipients: ['alice'], type: 'alert', content: 'via the served module' })).status, 202);
  await waitFor(async () => (await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).includes('via the served module'), 'the page to receive the notification');
});
