// Stream tickets: a native EventSource cannot send headers, so instead of the long-lived
// token it carries a ticket in its URL that is valid for seconds and opens one stream.
//
// A ticket is an HS256 JWT under its own key and audience, so any node holding the key can
// check it, and it can never pass as an access token nor an access token as a ticket.
// One-time use is enforced by recording each redeemed `jti` in the store (a unique key), so
// a ticket opens one stream in the whole cluster.
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { HeraldError } from '../errors.js';
import { isValidUserId, parseGroups, type Principal } from './principal.js';

const TICKET_AUDIENCE = 'herald:stream-ticket';
const TICKET_TYPE = 'herald-ticket+jwt';
/** A ticket outlives no token: 30 s plus at most this skew between nodes. */
const TICKET_CLOCK_TOLERANCE_S = 5;
/** Longest ticket accepted (it travels in a URL); the stream route allows as much. */
export const MAX_TICKET_CHARS = 4096;

export interface TicketSettings {
  /** HERALD_TICKET_SECRET, or null. */
  ticketSecret: string | null;
  /** HERALD_JWT_SECRET (or the development secret), or null. */
  jwtSecret: string | null;
  ttlS: number;
  /** Records a ticket id as used until the given time; false when it was already used. */
  redeemOnce(jti: string, expiresAtMs: number): Promise<boolean>;
}

export interface IssuedTicket {
  ticket: string;
  expires_in: number;
}

export interface TicketService {
  issue(principal: Principal): Promise<IssuedTicket>;
  /** Checks a ticket without using it up; HeraldError('invalid_token') when it is not valid. */
  verify(ticket: string): Promise<VerifiedTicket>;
  /** Uses the ticket up (cluster-wide); HeraldError('invalid_token') when it was used already. */
  spend(ticket: VerifiedTicket): Promise<void>;
  /** verify + spend: the principal the ticket was minted for, once. */
  redeem(ticket: string): Promise<Principal>;
  /** True when tickets minted here are accepted by other nodes sharing the configuration. */
  readonly sharedKey: boolean;
}

/** A valid ticket, not yet used up: the stream is admitted before it is spent. */
export interface VerifiedTicket {
  principal: Principal;
  jti: string;
  /** Until when its id must be remembered as used, ms since epoch. */
  usedUntilMs: number;
}

/** The ticket key: explicit, else derived from the JWT secret (one-way), else random. */
function ticketKey(settings: TicketSettings): { key: Uint8Array; shared: boolean } {
  if (settings.ticketSecret !== null) return { key: new TextEncoder().encode(settings.ticketSecret), shared: true };
  if (settings.jwtSecret !== null) {
    // A separate key, so a ticket is never a valid access token signature and vice versa.
    return { key: createHmac('sha256', settings.jwtSecret).update('herald stream ticket key v1').digest(), shared: true };
  }
  return { key: randomBytes(32), shared: false };
}

export function createTicketService(settings: TicketSettings): TicketService {
  const { key, shared } = ticketKey(settings);

  return {
    sharedKey: shared,
    async issue(principal) {
      const now = Math.floor(Date.now() / 1000);
      // Never longer than the token it stands for.
      const exp = Math.min(now + settings.ttlS, principal.exp);
      if (exp <= now) throw new HeraldError('invalid_token');
      const ticket = await new SignJWT({ scope: 'subscribe', groups: [...principal.groups], texp: principal.exp })
        .setProtectedHeader({ alg: 'HS256', typ: TICKET_TYPE })
        .setSubject(principal.sub)
        .setAudience(TICKET_AUDIENCE)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(key);
      if (ticket.length > MAX_TICKET_CHARS) {
        throw new HeraldError('invalid_request', 'This token names too many groups to fit a ticket in a URL; use the Authorization header or the session cookie.');
      }
      return { ticket, expires_in: exp - now };
    },
    async verify(ticket) {
      if (ticket.length > MAX_TICKET_CHARS) throw new HeraldError('invalid_token');
      let payload;
      try {
        ({ payload } = await jwtVerify(ticket, key, {
          algorithms: ['HS256'],
          audience: TICKET_AUDIENCE,
          typ: TICKET_TYPE,
          requiredClaims: ['exp', 'sub', 'jti'],
          clockTolerance: TICKET_CLOCK_TOLERANCE_S,
        }));
      } catch {
        throw new HeraldError('invalid_token');
      }
      const { sub, jti, exp, texp } = payload;
      if (!isValidUserId(sub) || typeof jti !== 'string' || typeof exp !== 'number' || typeof texp !== 'number') {
        throw new HeraldError('invalid_token');
      }
      return {
        principal: { sub, scopes: new Set(['subscribe']), groups: parseGroups(payload.groups), exp: texp },
        jti,
        usedUntilMs: (exp + TICKET_CLOCK_TOLERANCE_S) * 1000,
      };
    },
    async spend(verified) {
      if (!(await settings.redeemOnce(verified.jti, verified.usedUntilMs))) throw new HeraldError('invalid_token');
    },
    async redeem(ticket) {
      const verified = await this.verify(ticket);
      await this.spend(verified);
      return verified.principal;
    },
  };
}
