import type { FastifyRequest } from 'fastify';
import { isLoopbackHost } from '../config.js';

/** Headers a proxy adds when it relays a request; a relayed request only looks local. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/**
 * True when the request was made on this machine, straight to Herald: its socket peer is a
 * loopback address and no proxy relayed it. The rule for what development mode and an
 * unprotected /metrics answer.
 */
export function isDirectLocalRequest(request: FastifyRequest): boolean {
  if (FORWARDING_HEADERS.some((name) => request.headers[name] !== undefined)) return false;
  return isLoopbackHost(request.raw.socket.remoteAddress ?? '');
}
