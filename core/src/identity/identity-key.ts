import { bytesEqual, concatBytes } from '../encoding/bytes.js';
import { decodeBase64Exact, encodeBase64 } from '../encoding/base64.js';
import { DecodeError, InvalidKeyError } from '../errors.js';
import {
  assertValidPublicKey,
  keyPairFromSeed,
  PUBLIC_KEY_BYTES,
  SEED_BYTES,
  type Ed25519KeyPair,
  type PublicKey,
} from '../crypto/ed25519.js';

/** identity.key is 88 base64 chars + LF; identity.pub is 44 + LF (spec §1.3). */
export const SECRET_FILE_MAX_BYTES = 89;
export const PUBLIC_FILE_MAX_BYTES = 45;
/** authorized_keys/ and trusted_orgs/ files are read up to 256 bytes (spec §1.4–1.5). */
export const TRUST_FILE_MAX_BYTES = 256;

/** The reader strips a trailing run of LF, CR and space; leading whitespace is an error. */
export function trimTrailingWhitespace(text: string): string {
  return text.replace(/[\n\r ]+$/, '');
}

/** `seed32 ‖ pub32` base64, the libsodium layout the reference signs with. */
export function encodeSecretKeyFile(pair: Ed25519KeyPair): string {
  return `${encodeBase64(concatBytes(pair.seed, pair.publicKey))}\n`;
}

export function encodePublicKeyFile(publicKey: PublicKey): string {
  return `${encodeBase64(publicKey)}\n`;
}

/**
 * Parses identity.key / org.key. Unlike the reference we cross-check the embedded public
 * half against the seed: a mismatch would make us sign with one key while advertising another.
 */
export function decodeSecretKeyFile(text: string, what = 'secret key file'): Ed25519KeyPair {
  const raw = decodeBase64Exact(trimTrailingWhitespace(text), SEED_BYTES + PUBLIC_KEY_BYTES, what);
  const pair = keyPairFromSeed(raw.subarray(0, SEED_BYTES));
  if (!bytesEqual(pair.publicKey, raw.subarray(SEED_BYTES))) {
    throw new InvalidKeyError(`${what}: embedded public key does not match the seed`);
  }
  return pair;
}

/** Parses a public key in the one-line text form used by identity.pub, *.pub and *.org. */
export function decodePublicKeyText(text: string, what = 'public key'): PublicKey {
  const trimmed = trimTrailingWhitespace(text);
  if (trimmed.length === 0) throw new DecodeError(`${what}: empty`);
  return assertValidPublicKey(decodeBase64Exact(trimmed, PUBLIC_KEY_BYTES, what), what);
}
