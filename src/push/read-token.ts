// A push's `read_token`: what the service worker sends back (POST /v1/push/read) when the
// user clicks the notification, to mark that one notification read. It is never the user's
// JWT (a push payload sits in a push service and on the device): an HS256 JWT under a key
// of its own, naming one user and one notification, that expires with the push.
//
// The key is derived (one-way) from the VAPID private key, which every node of a
// deployment shares already: any node checks any node's tokens, across restarts.
import { createHmac } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { isValidUserId } from '../auth/principal.js';
import { HeraldError } from '../errors.js';

const AUDIENCE = 'herald:push-read';
const TYPE = 'herald-push-read+jwt';
/** Longest token accepted; real ones are about 300 characters. */
export const MAX_READ_TOKEN_CHARS = 2048;

export interface ReadGrant {
  user: string;
  notificationId: string;
}

export class ReadTokens {
  readonly #key: Uint8Array;
  readonly #now: () => number;

  constructor(vapidPrivateKey: string, now: () => number = Date.now) {
    // A separate key: nothing signed with it is a VAPID signature or an access token.
    this.#key = createHmac('sha256', Buffer.from(vapidPrivateKey, 'base64url')).update('herald push read token v1').digest();
    this.#now = now;
  }

  /** A token marking `notificationId` of `user` read, valid until `expiresAtMs`. */
  mint(grant: ReadGrant, expiresAtMs: number): Promise<string> {
    return new SignJWT({ nid: grant.notificationId })
      .setProtectedHeader({ alg: 'HS256', typ: TYPE })
      .setSubject(grant.user)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(this.#now() / 1000))
      .setExpirationTime(Math.ceil(expiresAtMs / 1000))
      .sign(this.#key);
  }

  /** The grant a token carries; HeraldError('invalid_token') for anything expired, altered or not a read token. */
  async verify(token: string): Promise<ReadGrant> {
    try {
      if (token.length > MAX_READ_TOKEN_CHARS) throw new Error('too long');
      const { payload, protectedHeader } = await jwtVerify(token, this.#key, {
        algorithms: ['HS256'], audience: AUDIENCE, requiredClaims: ['exp', 'sub', 'nid'], currentDate: new Date(this.#now()), clockTolerance: 0,
      });
      if (protectedHeader.typ !== TYPE || !isValidUserId(payload.sub) || typeof payload.nid !== 'string') throw new Error('not a read token');
      return { user: payload.sub, notificationId: payload.nid };
    } catch {
      throw new HeraldError('invalid_token', 'The read token is expired, altered, or not one Herald issued for a push.');
    }
  }
}
