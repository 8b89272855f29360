// scripts/install-system-deps.sh is a guest on the machine: while it installs packages, their
// maintainer scripts may not start services (policy-rc.d), and it stops none afterwards (a
// machine's own PostgreSQL or RabbitMQ keeps running). apt-get, dpkg-query and the service
// tools are stand-ins on PATH that record what they were asked: the packages themselves are
// not installed or removed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const SCRIPT = fileURLToPath(new URL('../../../scripts/install-system-deps.sh', import.meta.url));
/**
 * Runs the script with every package missing and stand-ins on PATH; `policy` is where it
 * keeps its policy-rc.d (a scratch path, not the machine's). Answers the calls recorded.
 */
function install(dir: string, policy: string): string[] {
  const log = join(dir, 'calls.log');
  const stub = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  stub('dpkg-query', 'exit 1');
  stub('apt-get', `echo "apt-get $*" >> ${log}; if [ "$1" = install ]; then ${policy} postgresql start; echo "policy-rc.d answered $?" >> ${log}; fi`);
  for (const tool of ['service', 'systemctl', 'invoke-rc.d']) stub(tool, `echo "${tool} $*" >> ${log}`);
  const run = spawnSync('bash', [SCRIPT], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, HERALD_POLICY_RC_D: policy }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  return readFileSync(log, 'utf8').trim().split('\n');
}

test('installing missing packages forbids service starts while apt runs and removes its policy-rc.d after', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const policy = join(dir, 'policy-rc.d');
  const calls = install(dir, policy);
  assert.ok(calls.includes('policy-rc.d answered 101'), calls.join('\n'));
  assert.equal(existsSync(policy), false, 'policy-rc.d left behind');
});

test('installing missing packages stops no service (a machine\'s own PostgreSQL or RabbitMQ keeps running)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const calls = install(dir, join(dir, 'policy-rc.d'));
  assert.deepEqual(calls.filter((c) => !c.startsWith('apt-get') && !c.startsWith('policy-rc.d')), [], 'service tools called');
});

test('a policy-rc.d the machine already has is left as it was', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const policy = join(dir, 'policy-rc.d');
  writeFileSync(policy, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  install(dir, policy);
  assert.equal(readFileSync(policy, 'utf8'), '#!/bin/sh\nexit 0\n');
});
