import { deriveWireGuardKeyPair, encodeBase64, publicKeyProblem } from '@meshguard/core';
import { K1, K2, K3 } from '@meshguard/core/testing';

// Keys from the spec's test vectors (§17), so failures are reproducible.
export const NODE_KEY = encodeBase64(K1.publicKey);
export const OTHER_NODE_KEY = encodeBase64(K2.publicKey);
export const THIRD_NODE_KEY = encodeBase64(K3.publicKey);
export const WIREGUARD_KEY = encodeBase64(deriveWireGuardKeyPair(K1.seed).publicKey);

/** 44 canonical base64 characters that the CRD accepts but are no usable Ed25519 key. */
export const ZERO_KEY = encodeBase64(new Uint8Array(32));
/** y = 1, the identity point: small order. */
export const SMALL_ORDER_KEY = encodeBase64(Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0)));
/** u = 1 has order 4 on Curve25519: X25519 with it yields nothing secret. */
export const SMALL_ORDER_WIREGUARD_KEY = SMALL_ORDER_KEY;
/** The first y (little-endian, low byte counting up) that is not on the curve. */
export const OFF_CURVE_KEY = ((): string => {
  for (let i = 2; i < 256; i++) {
    const bytes = Uint8Array.from({ length: 32 }, (_, j) => (j === 0 ? i : 0));
    if (publicKeyProblem(bytes) === 'is not a point on the Ed25519 curve') return encodeBase64(bytes);
  }
  throw new Error('no off-curve key found');
})();

export type Json = Record<string, unknown>;

export function meshOrg(name: string, spec: Json = {}): Json {
  return { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg', metadata: { name }, spec };
}

export function meshNode(name: string, spec: Json): Json {
  return { apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshNode', metadata: { name }, spec };
}

/** A cluster node's MeshNode as its agent would apply it. */
export function clusterNode(name: string, overrides: Json = {}): Json {
  return meshNode(name, {
    org: 'acme',
    publicKey: NODE_KEY,
    wireguardPublicKey: WIREGUARD_KEY,
    nodeName: `${name}.eu-west-1.compute.internal`,
    ...overrides,
  });
}

/** An external host's MeshNode as an admin would apply it. */
export function externalNode(name: string, overrides: Json = {}): Json {
  return meshNode(name, { org: 'acme', publicKey: OTHER_NODE_KEY, external: true, ...overrides });
}
