// The SSRF guard of Web Push (README.md, "Web Push"): Herald POSTs only to the https origins of the
// known push services, or to origins listed in HERALD_PUSH_ALLOWED_ORIGINS. Each row is
// an endpoint a hostile or mistaken client could give.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endpointRefusal } from '../../src/push/push-origins.js';

const ALLOWED = ['http://127.0.0.1:9000'];

const ACCEPTED: Array<[string, string]> = [
  ['Chrome (FCM)', 'https://fcm.googleapis.com/fcm/send/abc:def'],
  ['Firefox (Mozilla autopush)', 'https://updates.push.services.mozilla.com/wpush/v2/gAAAA'],
  ['Safari (Apple)', 'https://web.push.apple.com/QGx0n'],
  ['Edge on Windows (WNS)', 'https://wns2-par02p.notify.windows.com/w/?token=BQYAAA'],
  ['a listed origin, even http on loopback', 'http://127.0.0.1:9000/push/1'],
];

const REFUSED: Array<[string, string, RegExp]> = [
  ['a private address', 'https://10.0.0.1/push', /not a known push service/],
  ['another private range', 'https://192.168.1.20/push', /not a known push service/],
  ['a link-local address (cloud metadata)', 'https://169.254.169.254/latest/meta-data', /not a known push service/],
  ['loopback', 'https://127.0.0.1/push', /not a known push service/],
  ['localhost', 'https://localhost/push', /not a known push service/],
  ['IPv6 loopback', 'https://[::1]/push', /not a known push service/],
  ['a known service over http', 'http://fcm.googleapis.com/fcm/send/x', /not https/],
  ['a known service on another port', 'https://fcm.googleapis.com:8443/fcm/send/x', /port of its own/],
  ['a look-alike host', 'https://fcm.googleapis.com.evil.example/fcm/send/x', /not a known push service/],
  ['a suffix without a subdomain', 'https://push.apple.com.evil.example/x', /not a known push service/],
  ['credentials in the URL', 'https://user:pw@fcm.googleapis.com/fcm/send/x', /credentials/],
  ['a listed origin\'s host on another port', 'http://127.0.0.1:9001/push/1', /not https/],
  ['not a URL', 'fcm.googleapis.com/fcm/send/x', /not an absolute URL/],
  ['another scheme', 'file:///etc/passwd', /not https/],
  ['a huge endpoint', `https://fcm.googleapis.com/fcm/send/${'x'.repeat(3000)}`, /longer than 2048/],
];

for (const [what, endpoint] of ACCEPTED) {
  test(`the origin guard lets through ${what}`, () => {
    assert.equal(endpointRefusal(endpoint, ALLOWED), null);
  });
}

for (const [what, endpoint, reason] of REFUSED) {
  test(`the origin guard refuses ${what}`, () => {
    assert.match(endpointRefusal(endpoint, ALLOWED) ?? 'accepted', reason);
  });
}
