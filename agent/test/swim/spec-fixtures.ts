import { deriveWireGuardKeyPair, type WireGuardKeyPair } from '@meshguard/core';
import { K1, K2 } from '@meshguard/core/testing';

/** The spec's K1–K3 (§17) and their CLI WireGuard keys (TV5). */
export { hex, K1, K2, K3, toHexStr } from '@meshguard/core/testing';
export { assertDecodeError, decodesOrRejects } from '@meshguard/core/testing';

export const K1_WG: WireGuardKeyPair = deriveWireGuardKeyPair(K1.seed);
export const K2_WG: WireGuardKeyPair = deriveWireGuardKeyPair(K2.seed);

/** TV13's first gossip entry (K1 alive), shared by the entry and Ack tests. */
export const TV13_ENTRY_1 =
  'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a0105000000000000000104cb0071070000000000000000000000006dca01d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e000000000000000000000000000000000000000001';

/** TV15–TV18 token / transaction ID `00 01 02 …`. */
export const counting = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i);
