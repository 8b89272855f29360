// "Your backend", with nothing but Node: it knows who the user is, mints that user a
// short-lived Herald token (mint-token/mint.mjs: HS256 with Herald's own HERALD_JWT_SECRET),
// and serves herald-inbox.html, whose <herald-inbox> asks GET /herald-token for a token at
// start and again whenever one expires or Herald refuses it. The page comes from this
// server's origin, not Herald's, so Herald must let that origin in: HERALD_CORS_ORIGINS.
// From the repository root, after `npm install`, in one shell:
//
//   export HERALD_JWT_SECRET=$(node -p "crypto.randomBytes(32).toString('base64url')")
//   HERALD_CORS_ORIGINS=http://127.0.0.1:3000 HERALD_LOG_LEVEL=warn npm start &
//   node client/examples/token-server.mjs &
//   npx herald publish --to alice --title "Hello" --content "from your backend"
//
// Open http://127.0.0.1:3000/ before the last line and the bell shows it; `kill %1 %2` stops
// both servers. PORT (default 3000) and HERALD_URL (default http://127.0.0.1:8080) move
// either side; HERALD_CORS_ORIGINS must then name this server's origin.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { heraldToken } from './mint-token/mint.mjs';

const secret = process.env.HERALD_JWT_SECRET;
if (!secret) {
  console.error('token-server: set HERALD_JWT_SECRET to the secret Herald runs with: this server signs the users\' Herald tokens with it');
  process.exit(1);
}
const heraldUrl = process.env.HERALD_URL || 'http://127.0.0.1:8080';
const port = Number(process.env.PORT || 3000);
// The example page names Herald at its default address: point it at this one.
const page = readFileSync(new URL('./herald-inbox.html', import.meta.url), 'utf8').replaceAll('http://127.0.0.1:8080', heraldUrl);
const TOKEN_TTL_S = 600;

/**
 * Who is signed in. A real app answers from its own session (its login cookie), never from
 * anything the caller chooses, such as a query parameter or a header: whoever gets a user's
 * token reads that user's inbox. This example has one signed-in user.
 */
function signedInUser(_request) {
  return 'alice';
}

const server = createServer((request, response) => {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  if (request.method === 'GET' && pathname === '/herald-token') {
    const token = heraldToken(signedInUser(request), secret, TOKEN_TTL_S);
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(token);
  } else if (request.method === 'GET' && pathname === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  } else {
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`token server: open http://127.0.0.1:${server.address().port}/ (signed in as alice; Herald at ${heraldUrl})`);
});
