import { bytesEqual, isAllZero } from '../encoding/bytes.js';
import { verify } from '../crypto/ed25519.js';
import { grantPayload, isDelegated, signedPayload, type NodeCertificate } from './node-certificate.js';

export type CertificateProblem =
  | 'node-mismatch'
  | 'bad-signature'
  | 'bad-delegation'
  | 'missing-wireguard-key'
  | 'not-yet-valid'
  | 'expired'
  | 'untrusted-org'
  | 'revoked'
  | 'issuer-revoked';

export type CertificateCheck =
  { readonly ok: true } | { readonly ok: false; readonly problem: CertificateProblem; readonly message: string };

/**
 * A certificate issued further in the future than this is refused. The reference never
 * looks at issued_at (spec §16); an hour tolerates badly synced clocks while still
 * refusing certificates minted for later use.
 */
export const ISSUED_AT_SKEW_SECONDS = 3600n;

export interface CertificateContext {
  /** Unix seconds. */
  readonly now: bigint;
  /** The identity this certificate must belong to (the Ping/Ack sender, or ourselves). */
  readonly expectedNode?: Uint8Array;
  readonly isTrustedOrg: (org: Uint8Array) => boolean;
  readonly isRevoked: (org: Uint8Array, node: Uint8Array) => boolean;
}

const ok: CertificateCheck = { ok: true };
function fail(problem: CertificateProblem, message: string): CertificateCheck {
  return { ok: false, problem, message };
}

/** Signatures only (spec §4.3 step 2), independent of any local trust. */
export function checkCertificateSignatures(cert: NodeCertificate): CertificateCheck {
  const payload = signedPayload(cert);
  if (isDelegated(cert)) {
    if (isAllZero(cert.issuerPublicKey)) return fail('bad-delegation', 'delegated certificate without issuer');
    if (!verify(cert.signature, payload, cert.issuerPublicKey)) {
      return fail('bad-signature', 'certificate signature does not verify with the issuer key');
    }
    if (!verify(cert.delegationSignature, grantPayload(cert), cert.orgPublicKey)) {
      return fail('bad-delegation', 'delegation grant does not verify with the org key');
    }
    return ok;
  }
  if (!verify(cert.signature, payload, cert.orgPublicKey)) {
    return fail('bad-signature', 'certificate signature does not verify with the org key');
  }
  return ok;
}

export function isExpired(cert: NodeCertificate, now: bigint): boolean {
  return cert.expiresAt !== 0n && now >= cert.expiresAt;
}

/** Full receiver-side validation in the spec's order (§4.3); the first failure decides. */
export function validateCertificate(cert: NodeCertificate, ctx: CertificateContext): CertificateCheck {
  if (ctx.expectedNode !== undefined && !bytesEqual(cert.nodePublicKey, ctx.expectedNode)) {
    return fail('node-mismatch', 'certificate is for a different node key');
  }
  const signatures = checkCertificateSignatures(cert);
  if (!signatures.ok) return signatures;
  if (cert.version === 2 && isAllZero(cert.wgPublicKey)) {
    return fail('missing-wireguard-key', 'v2 certificate without a WireGuard key');
  }
  if (isExpired(cert, ctx.now)) return fail('expired', `certificate expired at ${cert.expiresAt} (now ${ctx.now})`);
  if (cert.issuedAt > ctx.now + ISSUED_AT_SKEW_SECONDS) {
    return fail('not-yet-valid', `certificate issued in the future (${cert.issuedAt}, now ${ctx.now})`);
  }
  if (!ctx.isTrustedOrg(cert.orgPublicKey)) return fail('untrusted-org', 'certificate org is not trusted');
  if (ctx.isRevoked(cert.orgPublicKey, cert.nodePublicKey)) {
    return fail('revoked', 'the org has revoked this node');
  }
  if (isDelegated(cert) && ctx.isRevoked(cert.orgPublicKey, cert.issuerPublicKey)) {
    return fail('issuer-revoked', 'the org has revoked the delegated issuer');
  }
  return ok;
}
