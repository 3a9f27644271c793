import { assertValidPublicKey, sign, type Ed25519KeyPair } from '../crypto/ed25519.js';
import { isAllZero } from '../encoding/bytes.js';
import { ArgumentError } from '../errors.js';
import {
  FLAG_DELEGATED,
  grantPayload,
  signedPayload,
  type CertificateVersion,
  type NodeCertificate,
  type UnsignedCertificate,
} from './node-certificate.js';
import { encodeNodeName } from './node-name.js';

export interface CertificateRequest {
  readonly nodePublicKey: Uint8Array;
  readonly nodeName: string;
  /** Unix seconds. */
  readonly issuedAt: bigint;
  /** Unix seconds; 0n = never expires. */
  readonly expiresAt: bigint;
  /** Present → v2 certificate binding this X25519 key; absent → v1. */
  readonly wgPublicKey?: Uint8Array;
}

function unsigned(
  org: Uint8Array,
  request: CertificateRequest,
  version: CertificateVersion,
  issuer: Uint8Array,
  flags: number,
): UnsignedCertificate {
  assertValidPublicKey(request.nodePublicKey, 'node public key');
  if (request.expiresAt !== 0n && request.expiresAt <= request.issuedAt) {
    throw new ArgumentError('certificate would expire before it is issued');
  }
  const wg = request.wgPublicKey ?? new Uint8Array(32);
  if (version === 2 && (wg.length !== 32 || isAllZero(wg))) {
    throw new ArgumentError('a v2 certificate needs a non-zero 32-byte WireGuard public key');
  }
  return {
    version,
    orgPublicKey: org,
    nodePublicKey: Uint8Array.from(request.nodePublicKey),
    nodeName: encodeNodeName(request.nodeName),
    issuedAt: request.issuedAt,
    expiresAt: request.expiresAt,
    flags,
    wgPublicKey: version === 2 ? Uint8Array.from(wg) : new Uint8Array(32),
    issuerPublicKey: Uint8Array.from(issuer),
  };
}

/** Org-signed certificate: v1 without a WireGuard key, v2 (direct) with one. */
export function issueCertificate(org: Ed25519KeyPair, request: CertificateRequest): NodeCertificate {
  const version: CertificateVersion = request.wgPublicKey === undefined ? 1 : 2;
  const body = unsigned(org.publicKey, request, version, new Uint8Array(32), 0);
  return { ...body, signature: sign(signedPayload(body), org.seed), delegationSignature: new Uint8Array(64) };
}

/**
 * v2 certificate signed by a delegated issuer: the org signs the grant G, the issuer signs
 * the leaf. Note (spec §16): G does not cover the leaf key, so anyone holding a grant can
 * reuse it for further leaves with the same expiry; revoking the issuer is the remedy.
 */
export function issueDelegatedCertificate(
  org: Ed25519KeyPair,
  issuer: Ed25519KeyPair,
  request: CertificateRequest & { readonly wgPublicKey: Uint8Array },
): NodeCertificate {
  const body = unsigned(org.publicKey, request, 2, issuer.publicKey, FLAG_DELEGATED);
  return {
    ...body,
    signature: sign(signedPayload(body), issuer.seed),
    delegationSignature: sign(grantPayload(body), org.seed),
  };
}
