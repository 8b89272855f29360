// The better-sse peer: what a TypeScript developer would build with the package today, and
// nothing more. A stream joins the broadcast channel and, with `?uid=`, its user's channel;
// POST /publish sends the JSON body to everyone, or with `?uid=` to that user's streams.
// Memory only, no authentication; the package's defaults are kept.
//   PORT (required), HOST (default 127.0.0.1)
import { createServer, type IncomingMessage } from 'node:http';
import { createChannel, createSession, type Channel } from 'better-sse';

const everyone = createChannel();
const users = new Map<string, Channel>();

function channelOf(uid: string): Channel {
  let channel = users.get(uid);
  if (!channel) {
    const created = createChannel();
    created.on('session-deregistered', () => { if (created.sessionCount === 0) users.delete(uid); });
    users.set(uid, created);
    channel = created;
  }
  return channel;
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try { return JSON.parse(text) as unknown; } catch { return text; }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://peer');
  const uid = url.searchParams.get('uid');
  void (async () => {
    if (req.method === 'GET' && url.pathname === '/sse') {
      const session = await createSession(req, res);
      if (!session.isConnected) await new Promise<void>((resolve) => session.once('connected', () => resolve()));
      everyone.register(session);
      if (uid) channelOf(uid).register(session);
    } else if (req.method === 'POST' && url.pathname === '/publish') {
      const data = await body(req);
      const channel = uid ? users.get(uid) : everyone;
      channel?.broadcast(data);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(String(channel?.sessionCount ?? 0));
    } else {
      res.writeHead(404).end();
    }
  })().catch((err: unknown) => { if (!res.headersSent) res.writeHead(500).end(String(err)); });
});

server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
