// The SSRF guard of Web Push: a subscription's endpoint is a URL the user's browser (or
// anyone holding a token) supplies, and Herald POSTs to it. Only the https origins of the
// known push services pass, or an exact origin the operator listed in
// HERALD_PUSH_ALLOWED_ORIGINS (the only way to allow http or loopback, e.g. a test's
// stand-in push service). Checked when a subscription is stored and again before every send.

/** Hosts of the push services browsers use, by exact name. */
const KNOWN_HOSTS = new Set([
  'fcm.googleapis.com', // Chrome, Edge on Android, Opera, Samsung Internet (Firebase Cloud Messaging)
  'updates.push.services.mozilla.com', // Firefox (autopush)
]);

/** Push services that hand out per-region hosts: a name ending in one of these (after a dot). */
const KNOWN_SUFFIXES = [
  '.push.apple.com', // Safari (web.push.apple.com)
  '.notify.windows.com', // Edge on Windows (Windows Push Notification Services)
];

/** Longest endpoint accepted: real ones are a few hundred characters. */
export const MAX_ENDPOINT_LENGTH = 2048;

/** Why Herald will not POST to this endpoint, or null when it may. */
export function endpointRefusal(endpoint: string, allowedOrigins: readonly string[]): string | null {
  if (endpoint.length > MAX_ENDPOINT_LENGTH) return `the endpoint is longer than ${MAX_ENDPOINT_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return 'the endpoint is not an absolute URL';
  }
  // Credentials in a URL would be sent as Basic auth by some clients: never part of a push endpoint.
  if (url.username !== '' || url.password !== '') return 'the endpoint carries credentials';
  if (allowedOrigins.includes(url.origin)) return null;
  if (url.protocol !== 'https:') return 'the endpoint is not https (HERALD_PUSH_ALLOWED_ORIGINS lists the exceptions)';
  if (url.port !== '') return 'the endpoint names a port of its own; push services listen on 443';
  const host = url.hostname;
  if (KNOWN_HOSTS.has(host) || KNOWN_SUFFIXES.some((suffix) => host.endsWith(suffix) && host.length > suffix.length)) return null;
  return `${url.origin} is not a known push service (FCM, Mozilla, Apple, Windows) nor listed in HERALD_PUSH_ALLOWED_ORIGINS`;
}
