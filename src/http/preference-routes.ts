// GET/PUT /v1/preferences: the types a user muted. A change is pushed to every stream of the
// user on every node, through the same bus hint as an inbox change.
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import { MAX_MUTES, MUTE_PATTERN, normalizeMutes } from '../domain/preferences.js';
import type { InboxService } from '../inbox/inbox-service.js';
import { HeraldError } from '../errors.js';
import type { NotificationStore } from '../store/store.js';
import { principalOf } from './authenticate.js';
import { AUTH_ERRORS, NoQuery, responses, Responses } from './schemas.js';

/** What the API describes (OpenAPI); the handler checks it itself, for precise error codes. */
const PreferencesBody = Type.Object({
  muted_types: Type.Array(Type.String({ pattern: MUTE_PATTERN }), {
    maxItems: MAX_MUTES,
    description: `Types (\`promo\`) and prefixes ending in \`.*\` (\`social.*\` mutes \`social.like\`); at most ${MAX_MUTES}, duplicates collapse.`,
  }),
}, { additionalProperties: false });

/** The shape alone: unknown fields and non-arrays are `invalid_request`, entries are checked after. */
const PreferencesShape = Type.Object({ muted_types: Type.Array(Type.Unknown()) }, { additionalProperties: false });

const SUBSCRIBE = { auth: { scope: 'subscribe' } } as const;

export interface PreferenceRouteDeps {
  store: NotificationStore;
  inbox: InboxService;
}

export function preferenceRoutes(app: FastifyInstance, deps: PreferenceRouteDeps): void {
  const { store, inbox } = deps;

  app.get('/v1/preferences', {
    schema: {
      querystring: NoQuery, summary: 'The types the user muted.', tags: ['preferences'],
      response: responses({ 200: Responses.preferences }, 400, ...AUTH_ERRORS),
    },
    config: SUBSCRIBE,
  }, async (request) => ({ muted_types: await store.mutedTypes(principalOf(request).sub) }));

  app.put('/v1/preferences', {
    schema: {
      body: PreferencesBody, querystring: NoQuery, tags: ['preferences'],
      summary: 'Replace the muted types. Muted types are not delivered to the user (unless a publish is critical); the user\'s streams get `preferences.updated`.',
      response: responses({ 200: Responses.preferences }, 400, 413, 415, ...AUTH_ERRORS),
    },
    validatorCompiler: () => () => true,
    config: SUBSCRIBE,
  }, async (request) => {
    const principal = principalOf(request);
    const first = Value.Errors(PreferencesShape, request.body).First();
    if (first) {
      const where = first.path === '' ? 'body' : first.path.slice(1).replace(/\//g, '.');
      const unknown = first.path !== '' && !first.path.startsWith('/muted_types');
      throw new HeraldError('invalid_request', unknown
        ? `${where}: unknown field; the body is {"muted_types": [...]}.`
        : `${where}: ${first.message}; the body is {"muted_types": [...]}.`);
    }
    const mutedTypes = normalizeMutes((request.body as { muted_types: unknown[] }).muted_types);
    await inbox.setMutedTypes(principal, mutedTypes);
    return { muted_types: mutedTypes };
  });
}
