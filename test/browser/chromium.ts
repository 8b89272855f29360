import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (apt); browser tests never download one. */
export const CHROMIUM_PATH = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Background tabs must keep running their timers and streams like a user's would.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Launches Chromium; the caller closes it (a file that shares one browser, in its `after` hook). */
export async function startChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install the Debian package "chromium" (apt-get install chromium)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS });
}

/** Launches Chromium and closes it when the test ends. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await startChromium();
  t.after(() => browser.close());
  return browser;
}

// The one wait of the tests (test/helpers/wait.ts), also under this module's name for the
// browser tests that import it from here.
export { waitFor } from '../helpers/wait.js';
