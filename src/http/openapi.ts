// The API description, generated from the route schemas: GET /openapi.json (OpenAPI 3.1)
// and a reference page at GET /docs whose assets Herald serves itself (no CDN).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { VERSION } from '../version.js';

/** Paths that are part of the API; anything else (static files of the inbox page, test knobs) is left out. */
const API = /^\/(v1\/|healthz$|readyz$|metrics$)/;

export async function installOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald',
        version: VERSION,
        description: 'Real-time notifications over Server-Sent Events: publish, stream, inbox. ' +
          'Every error answers `{"error":{"code","message"}}` with a stable code. The stream protocol is described in docs/protocol.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT with scope `subscribe` and/or `publish`.' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url }) => ({ schema: (API.test(url) ? schema : { ...schema, hide: true }) as typeof schema, url }),
  });
  // No staticCSP: the plugin's own policy would replace Herald's (https: fonts and styles,
  // framing by the same origin); the page renders under Herald's stricter one.
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: false } });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
