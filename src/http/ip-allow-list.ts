// HERALD_ALLOW_IPS: only these networks reach the API. `request.ip` is the peer address, or
// the X-Forwarded-For entry Fastify's `trustProxy` chose when the peer is a configured
// trusted proxy (HERALD_TRUST_PROXY) — a client cannot pick its own address.
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HeraldError } from '../errors.js';

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Matches addresses against CIDRs (or single IPs); IPv4-mapped IPv6 counts as IPv4. */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return (ip) => {
    const address = MAPPED_V4.exec(ip)?.[1] ?? ip;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * Guards every route under /v1 (and any unmatched path, which may be a /v1 route spelled
 * another way); /healthz, /readyz and the other non-API routes stay open.
 */
export function isGuarded(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route === undefined || route === '*' || route === '/*') return !request.url.startsWith('/healthz') && !request.url.startsWith('/readyz');
  return route === '/v1' || route.startsWith('/v1/');
}

export function ipAllowList(app: FastifyInstance, allowIps: readonly string[]): void {
  if (allowIps.length === 0) return;
  const allowed = cidrMatcher(allowIps);
  app.addHook('onRequest', async (request) => {
    if (isGuarded(request) && !allowed(request.ip)) throw new HeraldError('ip_not_allowed');
  });
}
