import { keyPairFromSeed, type Ed25519KeyPair } from '../crypto/ed25519.js';

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
export const toHexStr = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The spec's K1–K3 (§17): RFC 8032 §7.1 TEST 1–3 keys, shared by every workspace's vector tests. */
export const K1: Ed25519KeyPair = keyPairFromSeed(
  hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
);
export const K2: Ed25519KeyPair = keyPairFromSeed(
  hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'),
);
export const K3: Ed25519KeyPair = keyPairFromSeed(
  hex('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7'),
);
