// deploy/systemd/herald.service: systemd itself checks it, and it keeps its hardening.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const UNIT = fileURLToPath(new URL('../../../deploy/systemd/herald.service', import.meta.url));

test('systemd-analyze verify finds nothing to say about the unit', () => {
  const result = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.equal(result.error, undefined, 'systemd-analyze runs');
  // Only lines about this unit count: the host's own units may have their own warnings.
  const ours = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.includes('herald.service'));
  assert.deepEqual(ours, []);
  assert.equal(result.status, 0, result.stderr);
});

test('the unit runs as a user of its own, read-only except its state directory, with no new privileges', () => {
  const unit = readFileSync(UNIT, 'utf8');
  for (const line of ['DynamicUser=yes', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/herald', 'NoNewPrivileges=yes', 'StateDirectory=herald', 'CapabilityBoundingSet=']) {
    assert.ok(unit.split('\n').includes(line), line);
  }
});
