// VAPID keys (RFC 8292) as `web-push generate-vapid-keys` prints them: base64url, the
// public key a raw uncompressed P-256 point (65 bytes), the private key its scalar (32).
import { createECDH } from 'node:crypto';
import webpush from 'web-push';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** A new key pair. */
export function generateVapidKeys(): VapidKeys {
  const { publicKey, privateKey } = webpush.generateVAPIDKeys();
  return { publicKey, privateKey };
}

/**
 * Why this pair cannot sign pushes, or null when it can: each decodes to the right length,
 * the public key is a point on P-256, and it is the private key's own (a pair mixed up
 * between two deployments would have every push service refuse every push).
 */
export function vapidPairProblem(publicKey: string, privateKey: string): string | null {
  if (!BASE64URL.test(publicKey) || Buffer.from(publicKey, 'base64url').length !== 65 || Buffer.from(publicKey, 'base64url')[0] !== 4) {
    return 'HERALD_VAPID_PUBLIC_KEY must be a base64url raw P-256 public key (65 bytes, 87 characters), as `herald vapid-keys` prints it';
  }
  if (!BASE64URL.test(privateKey) || Buffer.from(privateKey, 'base64url').length !== 32) {
    return 'HERALD_VAPID_PRIVATE_KEY must be a base64url P-256 private key (32 bytes, 43 characters), as `herald vapid-keys` prints it';
  }
  let derived: string;
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKey, 'base64url'));
    derived = ecdh.getPublicKey().toString('base64url');
  } catch {
    return 'HERALD_VAPID_PRIVATE_KEY is not a valid P-256 private key: generate a pair with `herald vapid-keys`';
  }
  if (derived !== publicKey) return 'HERALD_VAPID_PUBLIC_KEY is not the public key of HERALD_VAPID_PRIVATE_KEY: set both from one `herald vapid-keys` pair';
  return null;
}

/** Why a VAPID subject is unusable (push services want a contact: `mailto:` or an https URL), or null. */
export function vapidSubjectProblem(subject: string): string | null {
  if (/^mailto:[^\s@]+@[^\s@]+$/.test(subject)) return null;
  try {
    if (new URL(subject).protocol === 'https:') return null;
  } catch {
    // not a URL
  }
  return `HERALD_VAPID_SUBJECT must be a mailto: address or an https: URL where push services can reach you (got "${subject}")`;
}
