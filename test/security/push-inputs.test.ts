// Hostile input to the Web Push routes (README.md, "Web Push"), each row its own test with its exact
// answer: subscription bodies (bad keys, huge or unsafe endpoints), another user's
// subscription, and read tokens that are expired or altered.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ReadTokens } from '../../src/push/read-token.js';
import { generateVapidKeys } from '../../src/push/vapid-keys.js';
import { startCore, type CoreHerald } from '../core/harness.js';

const VAPID = generateVapidKeys();
const STAND_IN = 'http://127.0.0.1:9';

function browserKeys(): { p256dh: string; auth: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
}

function body(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { endpoint: `https://fcm.googleapis.com/fcm/send/${randomBytes(8).toString('hex')}`, expirationTime: null, keys: browserKeys(), ...overrides };
}

describe('Web Push routes refuse hostile input', () => {
  let herald: CoreHerald;
  let alice: string;
  let bob: string;

  before(async () => {
    herald = await startCore({
      env: {
        HERALD_VAPID_PUBLIC_KEY: VAPID.publicKey, HERALD_VAPID_PRIVATE_KEY: VAPID.privateKey, HERALD_VAPID_SUBJECT: 'mailto:ops@example.com',
        HERALD_PUSH_ALLOWED_ORIGINS: STAND_IN,
      },
    });
    alice = await herald.token('alice');
    bob = await herald.token('bob');
  });
  after(() => herald.close());

  const refusals: Array<[string, () => Record<string, unknown>, number, string]> = [
    ['a p256dh that is not a point on P-256', () => body({ keys: { ...browserKeys(), p256dh: Buffer.concat([Buffer.from([4]), randomBytes(64)]).toString('base64url') } }), 400, 'invalid_request'],
    ['a p256dh of the wrong length', () => body({ keys: { ...browserKeys(), p256dh: randomBytes(33).toString('base64url') } }), 400, 'invalid_request'],
    ['a p256dh that is not base64url', () => body({ keys: { ...browserKeys(), p256dh: 'not base64!' } }), 400, 'invalid_request'],
    ['an auth secret of the wrong length', () => body({ keys: { ...browserKeys(), auth: randomBytes(8).toString('base64url') } }), 400, 'invalid_request'],
    ['missing keys', () => body({ keys: undefined }), 400, 'invalid_request'],
    ['an unknown field', () => body({ extra: 1 }), 400, 'invalid_request'],
    ['a huge endpoint', () => body({ endpoint: `https://fcm.googleapis.com/fcm/send/${'x'.repeat(5000)}` }), 400, 'invalid_request'],
    ['an endpoint in a private range', () => body({ endpoint: 'https://10.0.0.1/push/1' }), 400, 'push_endpoint_not_allowed'],
    ['an endpoint at the cloud metadata address', () => body({ endpoint: 'https://169.254.169.254/latest/meta-data' }), 400, 'push_endpoint_not_allowed'],
    ['a loopback endpoint not listed', () => body({ endpoint: 'http://127.0.0.1:8080/v1/notifications' }), 400, 'push_endpoint_not_allowed'],
    ['a known push service over http', () => body({ endpoint: 'http://fcm.googleapis.com/fcm/send/x' }), 400, 'push_endpoint_not_allowed'],
    ['an endpoint with credentials', () => body({ endpoint: 'https://user:pw@fcm.googleapis.com/fcm/send/x' }), 400, 'push_endpoint_not_allowed'],
    ['an expirationTime already past', () => body({ expirationTime: 1000 }), 400, 'invalid_request'],
  ];

  for (const [what, make, status, code] of refusals) {
    test(`POST /v1/push/subscriptions with ${what} answers ${status} ${code}`, async () => {
      const answer = await herald.request('POST', '/v1/push/subscriptions', alice, make());
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body.error.code, code);
    });
  }

  test('a listed loopback origin (a test\'s stand-in push service) is accepted: 201', async () => {
    assert.equal((await herald.request('POST', '/v1/push/subscriptions', alice, body({ endpoint: `${STAND_IN}/push/1` }))).status, 201);
  });

  test('the same endpoint again answers 200 and belongs to whoever posted it last', async () => {
    const subscription = body();
    const first = await herald.request('POST', '/v1/push/subscriptions', alice, subscription);
    const again = await herald.request('POST', '/v1/push/subscriptions', bob, subscription);
    assert.equal(first.status, 201);
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    const mine = (await herald.request('GET', '/v1/push/subscriptions', alice)).body.items.map((i: { id: string }) => i.id);
    assert.ok(!mine.includes(first.body.id));
  });

  test('DELETE of another user\'s subscription answers 404 and leaves it', async () => {
    const created = await herald.request('POST', '/v1/push/subscriptions', alice, body());
    const answer = await herald.request('DELETE', `/v1/push/subscriptions/${created.body.id}`, bob);
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, 'not_found');
    assert.ok((await herald.request('GET', '/v1/push/subscriptions', alice)).body.items.some((i: { id: string }) => i.id === created.body.id));
  });

  test('DELETE of an unknown subscription answers 404', async () => {
    assert.equal((await herald.request('DELETE', '/v1/push/subscriptions/nope', alice)).status, 404);
  });

  test('GET /v1/push/subscriptions lists the user\'s own only', async () => {
    const created = await herald.request('POST', '/v1/push/subscriptions', bob, body());
    const items = (await herald.request('GET', '/v1/push/subscriptions', alice)).body.items as Array<{ id: string }>;
    assert.ok(!items.some((i) => i.id === created.body.id));
  });

  test('a read token marks its notification read (204), and again (204)', async () => {
    const id: string = (await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x' })).body.notifications[0].id;
    const token = await new ReadTokens(VAPID.privateKey, () => herald.clock.now()).mint({ user: 'alice', notificationId: id }, herald.clock.now() + 60_000);
    assert.equal((await herald.app.inject({ method: 'POST', url: '/v1/push/read', payload: { read_token: token } })).statusCode, 204);
    assert.equal((await herald.app.inject({ method: 'POST', url: '/v1/push/read', payload: { read_token: token } })).statusCode, 204);
    const inbox = await herald.request('GET', '/v1/notifications?status=unread', alice);
    assert.ok(!inbox.body.items.some((n: { id: string }) => n.id === id));
  });

  test('a read token replayed after it expired answers 401 invalid_token', async () => {
    const id: string = (await herald.publish({ recipients: ['alice'], type: 'alert', content: 'x' })).body.notifications[0].id;
    const token = await new ReadTokens(VAPID.privateKey, () => herald.clock.now()).mint({ user: 'alice', notificationId: id }, herald.clock.now() + 1000);
    herald.clock.advance(2000);
    const answer = await herald.app.inject({ method: 'POST', url: '/v1/push/read', payload: { read_token: token } });
    assert.equal(answer.statusCode, 401);
    assert.equal(answer.json().error.code, 'invalid_token');
  });

  test('a read token altered to name another notification answers 401 invalid_token', async () => {
    const [one, two] = (await herald.publish({ recipients: ['alice', 'bob'], type: 'alert', content: 'x' })).body.notifications.map((n: { id: string }) => n.id);
    const token = await new ReadTokens(VAPID.privateKey, () => herald.clock.now()).mint({ user: 'alice', notificationId: one }, herald.clock.now() + 60_000);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const altered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'bob', nid: two })).toString('base64url');
    const answer = await herald.app.inject({ method: 'POST', url: '/v1/push/read', payload: { read_token: `${header}.${altered}.${signature}` } });
    assert.equal(answer.statusCode, 401);
  });

  test('a user\'s access token is not a read token: 401', async () => {
    const answer = await herald.app.inject({ method: 'POST', url: '/v1/push/read', payload: { read_token: alice } });
    assert.equal(answer.statusCode, 401);
  });

  test('the subscription routes need a token: 401', async () => {
    assert.equal((await herald.app.inject({ method: 'GET', url: '/v1/push/subscriptions' })).statusCode, 401);
  });
});

describe('Web Push routes with push off', () => {
  test('every push route answers 404 not_found when no VAPID keys are configured', async (t) => {
    const herald = await startCore();
    t.after(() => herald.close());
    const token = await herald.token('alice');
    for (const [method, path] of [['GET', '/v1/push/vapid-public-key'], ['GET', '/v1/push/subscriptions'], ['POST', '/v1/push/subscriptions'], ['DELETE', '/v1/push/subscriptions/x']] as const) {
      const answer = await herald.request(method, path, token, method === 'POST' ? body() : undefined);
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.equal(answer.body.error.code, 'not_found');
    }
  });
});
