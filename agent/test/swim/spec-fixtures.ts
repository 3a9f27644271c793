import assert from 'node:assert/strict';
import {
  DecodeError,
  deriveWireGuardKeyPair,
  keyPairFromSeed,
  type Ed25519KeyPair,
  type WireGuardKeyPair,
} from '@meshguard/core';

/** The spec's K1–K3 (§17): RFC 8032 §7.1 TEST 1–3 seeds, and their CLI WireGuard keys (TV5). */
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHexStr = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export const K1: Ed25519KeyPair = keyPairFromSeed(
  hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
);
export const K2: Ed25519KeyPair = keyPairFromSeed(
  hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
);
export const K3: Ed25519KeyPair = keyPairFromSeed(
  hex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7'),
);

export const K1_WG: WireGuardKeyPair = deriveWireGuardKeyPair(K1.seed);
export const K2_WG: WireGuardKeyPair = deriveWireGuardKeyPair(K2.seed);

/** TV13's first gossip entry (K1 alive), shared by the entry and Ack tests. */
export const TV13_ENTRY_1 =
  'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a0105000000000000000104cb0071070000000000000000000000006dca01d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e000000000000000000000000000000000000000001';

/** TV15–TV18 token / transaction ID `00 01 02 …`. */
export const counting = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i);

export function assertDecodeError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected DecodeError, got ${String(err)}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** Property-test body: a decoder either returns or throws DecodeError — nothing else escapes. */
export function decodesOrRejects(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return true;
    throw err;
  }
}
