// The `critical` publish field: how it enters a publish request and its idempotency hash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toPublishRequest } from '../../src/ingest/publish-request.js';
import { HeraldError } from '../../src/errors.js';

const LIMITS = { maxRecipients: 1000, maxContentBytes: 65536, maxDataBytes: 16384 };
const BODY = { recipients: ['alice'], type: 'alert', content: 'hi', idempotency_key: 'k' };

test('critical: false hashes like a body without it, so keys stored before the field still replay', () => {
  assert.equal(toPublishRequest({ ...BODY, critical: false }, 'app', LIMITS).requestHash, toPublishRequest(BODY, 'app', LIMITS).requestHash);
});

test('critical: true hashes differently, so reusing a key with it is a conflict, not a replay', () => {
  assert.notEqual(toPublishRequest({ ...BODY, critical: true }, 'app', LIMITS).requestHash, toPublishRequest(BODY, 'app', LIMITS).requestHash);
});

test('a publish is not critical unless it says so', () => {
  assert.equal(toPublishRequest(BODY, 'app', LIMITS).critical, false);
  assert.equal(toPublishRequest({ ...BODY, critical: true }, 'app', LIMITS).critical, true);
});

test('critical that is not a boolean is refused with invalid_request', () => {
  assert.throws(() => toPublishRequest({ ...BODY, critical: 'yes' }, 'app', LIMITS), (err: unknown) => err instanceof HeraldError && err.code === 'invalid_request');
});
