import { assertLength, decodeBase64Exact, DecodeError, encodeBase64, isAllZero, toHex } from '@meshguard/core';

/** Every WireGuard key — private, public, preshared — is 32 bytes. */
export const WG_KEY_BYTES = 32;

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** The 44-character padded base64 that `wg genkey`, `wg show` and wg-quick files use. */
export function wgKeyFromBase64(text: string, what: string): Uint8Array {
  return decodeBase64Exact(text, WG_KEY_BYTES, what);
}

export function wgKeyToBase64(key: Uint8Array): string {
  return encodeBase64(assertLength(key, WG_KEY_BYTES, 'WireGuard key'));
}

/**
 * The 64 hex digits UAPI uses. wg and wireguard-go write lowercase; uppercase is read too,
 * as wireguard-go's decoder does, so a hand-written request is not refused for its case.
 */
export function wgKeyFromHex(text: string, what: string): Uint8Array {
  if (!HEX_KEY.test(text)) throw new DecodeError(`${what}: expected 64 hex digits`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function wgKeyToHex(key: Uint8Array): string {
  return toHex(assertLength(key, WG_KEY_BYTES, 'WireGuard key'));
}

/** UAPI spells "no key" as 64 zeros (for a private or preshared key); we spell it null. */
export function wgKeyOrNullFromHex(text: string, what: string): Uint8Array | null {
  const key = wgKeyFromHex(text, what);
  return isAllZero(key) ? null : key;
}

export function wgKeyOrNullToHex(key: Uint8Array | null): string {
  return key === null ? '0'.repeat(2 * WG_KEY_BYTES) : wgKeyToHex(key);
}
