import { networkError } from './network-error.js';
import { withTrailingSlash } from './stream.js';
import { HeraldError, type TokenProvider } from './types.js';

export interface ApiOptions {
  /** Base URL of Herald, e.g. `https://herald.example.com`. */
  url: string | URL;
  /** Asked for a JWT before each request; asked again once after a 401. */
  getToken?: TokenProvider;
  /** `fetch` implementation. Default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/**
 * JSON requests to Herald's REST API with the token provider: shared by the inbox and push
 * APIs. A refusal rejects with a `HeraldError` carrying the server's error `code` and the
 * HTTP `status`.
 */
export class ApiRequester {
  readonly base: string;
  readonly #getToken: TokenProvider | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ApiOptions) {
    this.base = withTrailingSlash(options.url);
    this.#getToken = options.getToken;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path, this.base).toString();
    let response = await this.#send(method, url, body, 'connect');
    if ((response.status === 401 || response.status === 403) && this.#getToken) {
      void response.body?.cancel().catch(() => {});
      response = await this.#send(method, url, body, 'unauthorized');
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new HeraldError(error?.code ?? 'http_error', error?.message ?? `${method} ${path}: ${response.status}`, response.status);
    }
    return parsed as T;
  }

  async #send(method: string, url: string, body: unknown, reason: 'connect' | 'unauthorized'): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = await this.#getToken?.({ reason });
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    try {
      return await this.#fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw networkError(err, url);
    }
  }
}
