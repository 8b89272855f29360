// The part of http_ece (RFC 8188 / RFC 8291 encrypted content, no types of its own) the
// stand-in push service uses.
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';
  export function decrypt(buffer: Buffer, params: { version: 'aes128gcm'; privateKey: ECDH; authSecret: Buffer | string }): Buffer;
}
