import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { isValidUserId } from '../auth/principal.js';
import { HeraldError } from '../errors.js';
import type { AppDeps } from '../app.js';
import { responses, Responses } from './schemas.js';

const DevTokenBody = Type.Object({ user: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

/** Development mode only: the inbox page mints a token for a typed-in user name. */
export function devRoutes(app: FastifyInstance, deps: AppDeps): void {
  const mint = deps.mintDevToken;
  if (!mint) return;
  app.post('/v1/dev/token', {
    schema: {
      body: DevTokenBody, summary: 'Development mode only: a token for any user.', tags: ['development'], security: [],
      response: responses({ 200: Responses.devToken }, 400, 413, 415, 500),
    },
  }, async (request) => {
    const { user } = request.body as { user: string };
    if (!isValidUserId(user)) throw new HeraldError('invalid_request', 'user must be 1 to 256 printable characters without spaces.');
    return { token: await mint(user) };
  });
}
