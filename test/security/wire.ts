// Wire-level tools for hostile tests: a raw-socket HTTP exchange (for bytes fetch refuses to
// send), a check of the exact lines a stream carried, and a one-line summary of an answer.
// Streams themselves are read with openStream (test/helpers/sse-client.ts).
import { connect } from 'node:net';
import { ERRORS } from '../../src/errors.js';

export interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** Sends `request` as-is and reads until `done(text)`, the server closes, or `timeoutMs` bounds a server that keeps the connection open. */
export async function rawExchange(port: number, request: Buffer | string, done: (text: string) => boolean = () => false, timeoutMs = 5000): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  const text = () => Buffer.concat(chunks).toString('latin1');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { socket.destroy(); resolve(); }, timeoutMs);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (done(text())) { clearTimeout(timer); socket.destroy(); resolve(); }
    });
    socket.on('close', () => { clearTimeout(timer); resolve(); });
    socket.on('error', (err) => { clearTimeout(timer); if (chunks.length) resolve(); else reject(err); });
    socket.write(request);
  });
  const all = text();
  const split = all.indexOf('\r\n\r\n');
  const head = split === -1 ? all : all.slice(0, split);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: split === -1 ? '' : all.slice(split + 4) };
}

const FIELD_LINE = /^(?:|retry: \d+|event: [^\r\n]+|id: [^\r\n\0]+|data: [^\r\n]*|: [^\r\n]*)$/;

/** Lines that are not one of the fields Herald writes (an injected field would be one). */
export function malformedLines(raw: string): string[] {
  // The spec ends a line at CRLF, LF or CR; Herald only writes LF, so split on LF and
  // flag any CR left inside a line.
  return raw.split('\n').filter((line) => line.includes('\r') || !FIELD_LINE.test(line));
}

/** "status code" of an API answer, plus any missing header the code requires. */
export async function answer(res: Response): Promise<string> {
  const text = await res.text();
  let code = '';
  let message = '';
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? '';
  } catch { /* not JSON */ }
  let out = code ? `${res.status} ${code}` : String(res.status);
  if (res.status === 401 && res.headers.get('www-authenticate') !== 'Bearer error="invalid_token"') out += ' (no WWW-Authenticate)';
  if (code === 'invalid_token' && message !== ERRORS.invalid_token.message) out += ' (detailed message!)';
  if ((res.status === 429 || res.status === 503) && !/^\d+$/.test(res.headers.get('retry-after') ?? '')) out += ' (no Retry-After)';
  return out;
}
