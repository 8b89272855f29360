import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeraldError } from '../../src/errors.js';
import { Admission } from '../../src/sse/admission.js';
import type { StreamSession } from '../../src/sse/session.js';

const stream = (user: string, ip: string): StreamSession => ({ user, ip }) as unknown as StreamSession;

function refusal(fn: () => void): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HeraldError);
    return { code: err.code, message: err.message };
  }
  return assert.fail('expected a refusal');
}

test('a user at their limit is refused, and admitted again once one of their streams closes', () => {
  const admission = new Admission({ maxConnections: 10, maxConnectionsPerUser: 2, maxConnectionsPerIp: 10 });
  const first = stream('alice', '10.0.0.1');
  admission.add(first);
  admission.add(stream('alice', '10.0.0.2'));
  assert.equal(refusal(() => admission.admit('alice', '10.0.0.3')).code, 'too_many_connections');
  admission.admit('bob', '10.0.0.3');
  assert.equal(admission.remove(first), true);
  admission.admit('alice', '10.0.0.3');
  assert.equal(admission.size, 1);
});

test('one client address is limited across users, and the node in total', () => {
  const admission = new Admission({ maxConnections: 3, maxConnectionsPerUser: 10, maxConnectionsPerIp: 2 });
  admission.add(stream('a', '10.0.0.1'));
  admission.add(stream('b', '10.0.0.1'));
  assert.match(refusal(() => admission.admit('c', '10.0.0.1')).message, /per client address/);
  admission.add(stream('c', '10.0.0.2'));
  assert.equal(refusal(() => admission.admit('d', '10.0.0.3')).code, 'overloaded');
});

test('a draining node refuses every stream, whatever its limits', () => {
  const admission = new Admission({ maxConnections: 10, maxConnectionsPerUser: 10, maxConnectionsPerIp: 10 });
  admission.startDraining();
  assert.equal(admission.draining, true);
  assert.equal(refusal(() => admission.admit('alice', '10.0.0.1')).code, 'unavailable');
});

test('a stream removed twice frees its slot once; a user with none left is forgotten', () => {
  const admission = new Admission({ maxConnections: 10, maxConnectionsPerUser: 1, maxConnectionsPerIp: 1 });
  const only = stream('alice', '10.0.0.1');
  admission.add(only);
  assert.deepEqual([...(admission.streamsOf('alice') ?? [])], [only]);
  assert.equal(admission.remove(only), true);
  assert.equal(admission.remove(only), false);
  assert.equal(admission.streamsOf('alice'), undefined);
  admission.admit('alice', '10.0.0.1');
});
