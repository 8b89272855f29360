// The load generator's HTTP/1.1 response reader: just enough of RFC 9112 to find the status,
// then hand on the body with its framing removed (Content-Length, chunked, or until close).
// It keeps no headers beyond the two that frame the body, and never copies a body chunk.

const CRLF2 = Buffer.from('\r\n\r\n');
/** A response head larger than this is not an answer from any of the peers. */
const MAX_HEAD_BYTES = 16 * 1024;

export interface ResponseHandlers {
  head(status: number): void;
  body(chunk: Buffer): void;
  /** The body is complete (never called for a close-delimited body: the socket's end is). */
  end(): void;
}

type State = 'head' | 'length' | 'close' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'chunk-last' | 'done';

export class ResponseReader {
  private state: State = 'head';
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  status = 0;

  constructor(private readonly on: ResponseHandlers) {}

  /** Ready for the next response on a keep-alive connection. */
  reset(): void {
    this.state = 'head';
    this.status = 0;
    this.remaining = 0;
  }

  push(data: Buffer): void {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, data]) : data;
    this.pending = Buffer.alloc(0);
    let at = 0;
    while (at < buf.length) {
      switch (this.state) {
        case 'head': {
          const end = buf.indexOf(CRLF2, at);
          if (end < 0) {
            if (buf.length - at > MAX_HEAD_BYTES) throw new Error('response head too large');
            this.pending = buf.subarray(at);
            return;
          }
          const head = buf.toString('latin1', at, end);
          at = end + 4;
          this.status = Number(head.slice(9, 12));
          const lower = head.toLowerCase();
          const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
          if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) this.state = 'chunk-size';
          else if (length) { this.remaining = Number(length[1]); this.state = this.remaining > 0 ? 'length' : 'done'; }
          else this.state = this.status === 204 || this.status === 304 ? 'done' : 'close';
          this.on.head(this.status);
          if (this.state === 'done') { this.state = 'head'; this.on.end(); }
          break;
        }
        case 'length': {
          const n = Math.min(this.remaining, buf.length - at);
          this.on.body(buf.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) { this.state = 'head'; this.on.end(); }
          break;
        }
        case 'close':
          this.on.body(buf.subarray(at));
          return;
        case 'chunk-size': {
          const eol = buf.indexOf('\r\n', at, 'latin1');
          if (eol < 0) { this.pending = buf.subarray(at); return; }
          this.remaining = parseInt(buf.toString('latin1', at, eol), 16);
          if (!Number.isFinite(this.remaining)) throw new Error('bad chunk size');
          at = eol + 2;
          this.state = this.remaining === 0 ? 'chunk-last' : 'chunk-data';
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, buf.length - at);
          this.on.body(buf.subarray(at, at + n));
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) { this.state = 'chunk-crlf'; this.remaining = 2; }
          break;
        }
        case 'chunk-crlf': {
          const n = Math.min(this.remaining, buf.length - at);
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'chunk-last': {
          // No trailers from any peer: the last chunk is followed by one empty line.
          if (buf.length - at < 2) { this.pending = buf.subarray(at); return; }
          at += 2;
          this.state = 'head';
          this.on.end();
          break;
        }
        case 'done':
          return;
      }
    }
  }
}
