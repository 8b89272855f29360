import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { isValidUserId } from '../auth/principal.js';
import { isLoopbackHost } from '../config.js';
import { HeraldError } from '../errors.js';
import { isDirectLocalRequest } from './local-request.js';
import { responses, Responses } from './schemas.js';

const DevTokenBody = Type.Object({ user: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

/** Development tokens minted per client address per minute: enough for a person, not for a script. */
export const DEV_TOKENS_PER_MINUTE = 20;

/** The host part of a Host header: `[::1]:8080` → `[::1]`, `localhost:8080` → `localhost`. */
function hostName(header: string | undefined): string {
  if (!header) return '';
  const bracketed = /^(\[[^\]]*\])(?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1] as string;
  return header.replace(/:\d+$/, '');
}

/** Development mode only: the inbox page mints a token for a typed-in user name. */
export interface DevRouteDeps {
  /** Mints development tokens for the inbox page; null outside development mode. */
  mintDevToken: ((user: string) => Promise<string>) | null;
}

export function devRoutes(app: FastifyInstance, deps: DevRouteDeps): void {
  // Request bodies, queries and params are typed from their schemas.
  const routes = app.withTypeProvider<TypeBoxTypeProvider>();
  const mint = deps.mintDevToken;
  if (!mint) return;
  routes.post('/v1/dev/token', {
    schema: {
      body: DevTokenBody, summary: 'Development mode only: a token for any user.', tags: ['development'], security: [],
      response: responses({ 200: Responses.devToken }, 400, 403, 413, 415, 429, 500),
    },
    // The server listens on loopback only, but a page on a name the attacker controls can be
    // re-pointed at 127.0.0.1 (DNS rebinding); its requests then carry the attacker's name in
    // Host. A proxy on this machine makes anyone's request arrive from loopback, with a Host
    // of the client's choosing: only a direct local request is answered. Checked before the
    // body is read.
    onRequest: async (request) => {
      if (!isDirectLocalRequest(request) || !isLoopbackHost(hostName(request.headers.host))) throw new HeraldError('host_not_allowed');
    },
    config: { rateLimit: { max: DEV_TOKENS_PER_MINUTE, timeWindow: 60_000 } },
  }, async (request) => {
    const { user } = request.body;
    if (!isValidUserId(user)) throw new HeraldError('invalid_request', 'user must be 1 to 256 printable characters without spaces.');
    return { token: await mint(user) };
  });
}
