/**
 * Where a notification's `data.url` may take the user, or undefined. A publisher sets that
 * URL and the host page follows it, so it is checked here, once for every host: http(s)
 * only (a `javascript:` URL would run in the host page, with its cookies and session),
 * resolved against the page, and, when the host names the origins it allows (`self` is the
 * page's own), one of those (otherwise any link is an open redirect).
 */
export function safeHref(value: unknown, pageUrl: string, allowedOrigins: readonly string[] | null): string | undefined {
  if (typeof value !== 'string') return undefined;
  let url: URL;
  try {
    url = new URL(value, pageUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (allowedOrigins !== null) {
    const own = new URL(pageUrl).origin;
    if (!allowedOrigins.some((origin) => (origin === 'self' ? own : origin) === url.origin)) return undefined;
  }
  return url.href;
}

/** The `allowed-origins` attribute: origins (or `self`) separated by spaces or commas; null when absent. */
export function parseAllowedOrigins(attribute: string | null): string[] | null {
  if (attribute === null) return null;
  return attribute.split(/[\s,]+/).filter(Boolean).map((origin) => (origin === 'self' ? origin : origin.replace(/\/+$/, '')));
}

/**
 * A link or image address a notification may carry (`data.actions[].url`, `data.avatar`):
 * `safeHref`'s checks, and https only, without a user name or password (which would let
 * `https://bank.example@evil.example` read as the bank). Anything else is not rendered.
 */
export function safeHttpsHref(value: unknown, pageUrl: string, allowedOrigins: readonly string[] | null): string | undefined {
  const href = safeHref(value, pageUrl, allowedOrigins);
  if (href === undefined) return undefined;
  const url = new URL(href);
  return url.protocol === 'https:' && url.username === '' && url.password === '' ? href : undefined;
}
