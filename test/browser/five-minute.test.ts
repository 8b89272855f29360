// The README's five-minute path, as a newcomer runs it: the commands in the header of
// client/examples/token-server.mjs (the README shows the same lines) start Herald with a
// secret and the example backend; the example page, opened in Chromium, shows what the last
// command publishes to alice. Only the ports differ: free ones, through HERALD_PORT, PORT and
// HERALD_URL (which the commands leave to the environment) and the origin the CORS line names.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/cluster.js';
import { startProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';
import { launchChromium } from './chromium.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLE_ORIGIN = 'http://127.0.0.1:3000';

/** The command lines of the token server's header, in order. */
function documentedCommands(): string[] {
  const header = readFileSync(join(REPO, 'client/examples/token-server.mjs'), 'utf8').split('\n');
  return header.filter((line) => line.startsWith('//   ')).map((line) => line.slice(2).trim());
}

test('the five-minute path: Herald with a secret, the example token server, and its page shows what is published to alice', async (t) => {
  const commands = documentedCommands();
  assert.equal(commands.length, 4, `four commands in the header of token-server.mjs: ${commands.join(' | ')}`);
  const [exportSecret, startHerald, startTokenServer, publish] = commands as [string, string, string, string];
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  for (const command of commands) assert.ok(readme.includes(command), `README.md shows: ${command}`);

  const secretRun = spawnSync('bash', ['-c', `${exportSecret}\nprintf %s "$HERALD_JWT_SECRET"`], { cwd: REPO, encoding: 'utf8' });
  const secret = secretRun.stdout;
  assert.ok(Buffer.byteLength(secret) >= 32, `the export line makes a secret Herald accepts (${secretRun.stderr})`);

  const dir = mkdtempSync(join(tmpdir(), 'herald-five-minute-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [heraldPort, pagePort] = [await freePort(), await freePort()];
  const heraldUrl = `http://127.0.0.1:${heraldPort}`;
  const pageOrigin = `http://127.0.0.1:${pagePort}`;
  const env = {
    ...process.env,
    HERALD_JWT_SECRET: secret,
    HERALD_PORT: String(heraldPort),
    HERALD_DATABASE_URL: join(dir, 'herald.db'),
    HERALD_URL: heraldUrl,
    PORT: String(pagePort),
  };
  const onPorts = (command: string) => command.replaceAll(EXAMPLE_ORIGIN, pageOrigin);

  const herald = startProc(t, 'bash', ['-c', onPorts(startHerald)], { cwd: REPO, env });
  await waitFor(async () => (await fetch(`${heraldUrl}/healthz`)).ok, () => `Herald to answer (output: ${herald.stdout()}${herald.stderr()})`, 30_000);
  const tokenServer = startProc(t, 'bash', ['-c', onPorts(startTokenServer)], { cwd: REPO, env });
  await waitFor(() => tokenServer.stdout().includes(`open ${pageOrigin}/`), () => `the token server to listen (output: ${tokenServer.stdout()}${tokenServer.stderr()})`);

  const browser = await launchChromium(t);
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
  await page.goto(`${pageOrigin}/`);
  await page.locator('herald-inbox [data-testid="connection-state"]', { hasText: /^open$/ }).waitFor({ state: 'attached', timeout: 30_000 });

  const published = spawnSync('bash', ['-c', onPorts(publish)], { cwd: REPO, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(published.status, 0, `exit ${published.status}, signal ${published.signal}, error ${published.error?.message}; stdout: ${published.stdout}; stderr: ${published.stderr}`);
  await waitFor(async () => (await page.locator('herald-inbox [data-testid="unread-count"]').textContent()) === '1', 'the badge to show 1');
  await page.locator('herald-inbox [data-testid="bell"]').click();
  const item = page.locator('herald-inbox [data-testid="notification"]', { hasText: 'from your backend' });
  await item.waitFor();
  assert.match((await item.textContent()) ?? '', /Hello/);
  assert.equal(await page.title(), '(1) Acme dashboard');
});
