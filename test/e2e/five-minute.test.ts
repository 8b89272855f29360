// The README's "Five minutes into your app": its token-minting snippets (Node, Python, Go) are
// the files in client/examples/mint-token/, shown verbatim, and each one, run with the
// command its header states, prints a token that a real Herald with that secret accepts for
// that user and for no one else. The example token server refuses to start without the
// secret. (The whole path in a browser: test/browser/five-minute.test.ts.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHerald } from '../helpers/herald.js';
import { publishAccepted } from '../helpers/publish.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SNIPPETS = [
  { file: 'mint.mjs', fence: 'js', comment: '//' },
  { file: 'mint.py', fence: 'python', comment: '#' },
  { file: 'main.go', fence: 'go', comment: '//' },
] as const;
type Snippet = (typeof SNIPPETS)[number];

const read = (path: string) => readFileSync(join(REPO, path), 'utf8');
const snippetPath = (snippet: Snippet) => `client/examples/mint-token/${snippet.file}`;

/** The header line that runs the snippet, e.g. `HERALD_JWT_SECRET=... python3 client/…/mint.py alice`. */
function documentedCommand(snippet: Snippet): string {
  const prefix = `${snippet.comment}   HERALD_JWT_SECRET=... `;
  const line = read(snippetPath(snippet)).split('\n').find((l) => l.startsWith(prefix) && l.includes(snippetPath(snippet)));
  assert.ok(line, `${snippetPath(snippet)} states the command that runs it`);
  return line.slice(prefix.length).trim();
}

/** Runs the documented command for `user` (in place of its `alice`) and answers the token it printed. */
function mintWith(t: TestContext, snippet: Snippet, secret: string, user: string): string {
  const command = documentedCommand(snippet).replace(/ alice$/, ` ${user}`);
  const env: NodeJS.ProcessEnv = { ...process.env, HERALD_JWT_SECRET: secret };
  if (snippet.fence === 'go') {
    // A scratch build cache and module path; GOPROXY=off: the snippet needs no module.
    const goHome = mkdtempSync(join(tmpdir(), 'herald-go-'));
    t.after(() => rmSync(goHome, { recursive: true, force: true }));
    Object.assign(env, { GOCACHE: join(goHome, 'cache'), GOPATH: join(goHome, 'path'), GOPROXY: 'off', GOFLAGS: '' });
  }
  const run = spawnSync('bash', ['-c', command], { cwd: REPO, env, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `${command} failed: ${run.stderr}${run.error ? ` (${run.error.message})` : ''}`);
  const token = run.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, `${command} printed a compact JWT`);
  return token;
}

async function get(url: string, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function snippetTokenReadsOnlyItsUsersInbox(t: TestContext, snippet: Snippet): Promise<void> {
  const secret = randomBytes(32).toString('base64url');
  const h = await startHerald({ env: { HERALD_JWT_SECRET: secret } });
  t.after(() => h.stop());
  await publishAccepted(h, { recipients: ['alice'], type: 'alert', content: 'for alice only' });
  const alice = mintWith(t, snippet, secret, 'alice');
  const bob = mintWith(t, snippet, secret, 'bob');

  assert.deepEqual(await get(`${h.url}/v1/notifications/unread-count`, alice), { status: 200, body: { unread_count: 1 } });
  assert.deepEqual(await get(`${h.url}/v1/notifications/unread-count`, bob), { status: 200, body: { unread_count: 0 } });
  const bobsList = await get(`${h.url}/v1/notifications`, bob);
  assert.equal(bobsList.status, 200);
  assert.deepEqual((bobsList.body as { items: unknown[] }).items, [], "bob's token lists nothing of alice's");
  const publishing = await h.publish({ recipients: ['bob'], type: 'alert', content: 'from alice' }, alice);
  assert.equal(publishing.status, 403, 'the token may subscribe, not publish');
}

test('the README shows the Node, Python and Go token snippets exactly as the files that are tested', () => {
  const readme = read('README.md');
  for (const snippet of SNIPPETS) {
    const block = `\`\`\`${snippet.fence}\n${read(snippetPath(snippet))}\`\`\``;
    assert.ok(readme.includes(block), `README.md shows ${snippetPath(snippet)} verbatim in a \`\`\`${snippet.fence} block`);
  }
});

test("the Node snippet's token (node:crypto) reads alice's inbox and no one else's", async (t) => {
  await snippetTokenReadsOnlyItsUsersInbox(t, SNIPPETS[0]);
});

test("the Python snippet's token (standard library) reads alice's inbox and no one else's", async (t) => {
  await snippetTokenReadsOnlyItsUsersInbox(t, SNIPPETS[1]);
});

test("the Go snippet's token (standard library) reads alice's inbox and no one else's", async (t) => {
  await snippetTokenReadsOnlyItsUsersInbox(t, SNIPPETS[2]);
});

test('the example token server refuses to start without HERALD_JWT_SECRET and says so', () => {
  const env = { ...process.env };
  delete env.HERALD_JWT_SECRET;
  const run = spawnSync(process.execPath, ['client/examples/token-server.mjs'], { cwd: REPO, env, encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /set HERALD_JWT_SECRET/);
});
