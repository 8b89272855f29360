// The bench's HTTP client: node:http with keep-alive instead of fetch. The client shares the
// 2 cores with the server, and fetch costs several times more CPU per request, which would
// cap what we can measure.
import { Agent, request as httpRequest } from 'node:http';
import type { HeraldProcess } from '../test/helpers/herald.js';

export const agent = new Agent({ keepAlive: true, maxSockets: 64 });

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function post(url: string, token: string, body: unknown, via: Agent = agent): Promise<number> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST', agent: via,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export async function publishOk(herald: Pick<HeraldProcess, 'url'>, token: string, body: unknown): Promise<void> {
  const status = await post(`${herald.url}/v1/notifications`, token, body);
  if (status !== 202) throw new Error(`publish answered ${status}`);
}

/** One `GET /healthz` round trip, in ms. */
export async function healthzMs(herald: Pick<HeraldProcess, 'url'>, via: Agent = agent): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    httpRequest(`${herald.url}/healthz`, { agent: via }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject).end();
  });
  return performance.now() - t0;
}
