import { generateKeyPairSync } from 'node:crypto';

/** A WireGuard key pair as `wg genkey` / `wg pubkey` print them: 44-character base64. */
export interface WgKeyPairText {
  readonly privateKey: string;
  readonly publicKey: string;
}

/**
 * Fresh X25519 keys from node:crypto, so the harness needs no `wg` binary to make them. JWK is
 * the one export format that gives the raw 32-byte scalar and point, base64url-encoded.
 */
export function generateWgKeyPair(): WgKeyPairText {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.d === undefined || jwk.x === undefined) throw new Error('X25519 JWK export lacks d or x');
  return {
    privateKey: Buffer.from(jwk.d, 'base64url').toString('base64'),
    publicKey: Buffer.from(jwk.x, 'base64url').toString('base64'),
  };
}
