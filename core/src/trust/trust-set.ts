import { orgDomain } from '../addressing/mesh-address.js';
import { validateCertificate, type CertificateProblem } from '../cert/certificate-validation.js';
import { isDelegated, type NodeCertificate } from '../cert/node-certificate.js';
import { publicKeyProblem } from '../crypto/ed25519.js';
import { bytesEqual, isAllZero } from '../encoding/bytes.js';
import { toHex } from '../encoding/hex.js';
import { verifyOrgMessage, type OrgCertRevoke, type OrgTrustVouch } from '../org/org-messages.js';

/** Bounds on what the trust set holds; the reference's 64-pair revocation table is too small for a real org. */
export const MAX_AUTHORIZED_KEYS = 64;
export const MAX_TRUSTED_ORGS = 64;
export const MAX_REVOCATIONS = 4096;
export const MAX_VOUCHES = 1024;

export interface AuthorizedKey {
  readonly name: string;
  readonly publicKey: Uint8Array;
}

export interface TrustedOrg {
  readonly name: string;
  readonly publicKey: Uint8Array;
}

/** What a receiver keeps of a certificate it validated once (spec §4.3, last paragraph). */
export interface RecordedCertificate {
  readonly orgPublicKey: Uint8Array;
  readonly nodePublicKey: Uint8Array;
  /** Present only for delegated certificates. */
  readonly issuerPublicKey?: Uint8Array;
  readonly expiresAt: bigint;
}

export function recordCertificate(cert: NodeCertificate): RecordedCertificate {
  const base = { orgPublicKey: cert.orgPublicKey, nodePublicKey: cert.nodePublicKey, expiresAt: cert.expiresAt };
  return isDelegated(cert) ? { ...base, issuerPublicKey: cert.issuerPublicKey } : base;
}

export type AllowReason = 'self' | 'open' | 'authorized-key' | 'recorded-certificate' | 'certificate' | 'vouched';
export type DenyReason =
  | 'zero-key'
  | 'invalid-key'
  | 'no-trust-configured'
  | 'not-trusted'
  | 'recorded-certificate-invalid'
  | `certificate-${CertificateProblem}`;

export type TrustDecision =
  | { readonly allowed: true; readonly reason: AllowReason; readonly detail: string }
  | { readonly allowed: false; readonly reason: DenyReason; readonly detail: string };

export interface AdmissionQuery {
  readonly peer: Uint8Array;
  /** Unix seconds. */
  readonly now: bigint;
  /** A certificate carried by the message being admitted (Ping/Ack extension). */
  readonly presentedCertificate?: NodeCertificate;
  /** What we recorded from an earlier valid certificate of this peer. */
  readonly recordedCertificate?: RecordedCertificate;
}

export type RevocationOutcome = 'applied' | 'duplicate' | 'bad-signature' | 'capacity';
export type VouchOutcome = 'applied' | 'duplicate' | 'bad-signature' | 'revoked' | 'capacity';

export interface TrustSetInit {
  /** Our own identity; always admitted. */
  readonly self?: Uint8Array;
  readonly authorizedKeys?: readonly AuthorizedKey[];
  readonly trustedOrgs?: readonly TrustedOrg[];
  /**
   * Admit every valid key. Off by default: the reference admits everyone when nothing is
   * configured (spec §16); we fail closed and make openness an explicit choice.
   */
  readonly open?: boolean;
}

const pairKey = (org: Uint8Array, node: Uint8Array): string => `${toHex(org)}:${toHex(node)}`;

/**
 * The admission decision over local trust: authorized keys, trusted orgs, org revocations
 * and vouches. Pure and synchronous, so the daemon, the CLI and tests share it.
 */
export class TrustSet {
  readonly self: Uint8Array | undefined;
  readonly open: boolean;
  readonly #authorized = new Map<string, AuthorizedKey>();
  readonly #orgs = new Map<string, TrustedOrg>();
  readonly #revocations = new Map<string, OrgCertRevoke>();
  readonly #vouches = new Map<string, OrgTrustVouch>();

  constructor(init: TrustSetInit = {}) {
    this.self = init.self;
    this.open = init.open ?? false;
    for (const k of init.authorizedKeys ?? []) {
      if (this.#authorized.size >= MAX_AUTHORIZED_KEYS) break;
      const id = toHex(k.publicKey);
      if (!this.#authorized.has(id) && publicKeyProblem(k.publicKey) === null) this.#authorized.set(id, k);
    }
    for (const o of init.trustedOrgs ?? []) {
      if (this.#orgs.size >= MAX_TRUSTED_ORGS) break;
      const id = toHex(o.publicKey);
      if (!this.#orgs.has(id) && publicKeyProblem(o.publicKey) === null) this.#orgs.set(id, o);
    }
  }

  get authorizedKeys(): readonly AuthorizedKey[] {
    return [...this.#authorized.values()];
  }

  get trustedOrgs(): readonly TrustedOrg[] {
    return [...this.#orgs.values()];
  }

  get revocations(): readonly OrgCertRevoke[] {
    return [...this.#revocations.values()];
  }

  get vouches(): readonly OrgTrustVouch[] {
    return [...this.#vouches.values()];
  }

  /** True when there is anything to admit peers by; otherwise nobody but ourselves gets in. */
  get hasTrustAnchors(): boolean {
    return this.#authorized.size > 0 || this.#orgs.size > 0;
  }

  authorizedName(key: Uint8Array): string | undefined {
    return this.#authorized.get(toHex(key))?.name;
  }

  trustedOrg(org: Uint8Array): TrustedOrg | undefined {
    return this.#orgs.get(toHex(org));
  }

  isTrustedOrg = (org: Uint8Array): boolean => this.#orgs.has(toHex(org));

  isRevoked = (org: Uint8Array, node: Uint8Array): boolean => this.#revocations.has(pairKey(org, node));

  /** Verifies and records an org revocation; scoped to that org only (spec §5.3), never undone. */
  applyRevocation(m: OrgCertRevoke): RevocationOutcome {
    const id = pairKey(m.orgPublicKey, m.nodePublicKey);
    if (this.#revocations.has(id)) return 'duplicate';
    if (!verifyOrgMessage(m)) return 'bad-signature';
    if (this.#revocations.size >= MAX_REVOCATIONS) return 'capacity';
    this.#revocations.set(id, m);
    // The revocation also withdraws that org's vouch for the key (spec §5.3).
    this.#vouches.delete(id);
    return 'applied';
  }

  applyVouch(m: OrgTrustVouch): VouchOutcome {
    const id = pairKey(m.orgPublicKey, m.vouchedPublicKey);
    if (this.isRevoked(m.orgPublicKey, m.vouchedPublicKey)) return 'revoked';
    if (this.#vouches.has(id)) return 'duplicate';
    if (!verifyOrgMessage(m)) return 'bad-signature';
    if (this.#vouches.size >= MAX_VOUCHES) return 'capacity';
    this.#vouches.set(id, m);
    return 'applied';
  }

  /** The trusted, non-revoking org that vouches for `peer`, if any. */
  vouchingOrg(peer: Uint8Array): TrustedOrg | undefined {
    for (const v of this.#vouches.values()) {
      if (!bytesEqual(v.vouchedPublicKey, peer)) continue;
      const org = this.trustedOrg(v.orgPublicKey);
      if (org !== undefined && !this.isRevoked(v.orgPublicKey, peer)) return org;
    }
    return undefined;
  }

  /** Whether a recorded certificate still admits its node (org trusted, unexpired, nothing revoked). */
  recordedCertificateProblem(rec: RecordedCertificate, now: bigint): string | null {
    if (!this.isTrustedOrg(rec.orgPublicKey)) return 'its org is no longer trusted';
    if (rec.expiresAt !== 0n && now >= rec.expiresAt) return 'it has expired';
    if (this.isRevoked(rec.orgPublicKey, rec.nodePublicKey)) return 'the org revoked the node';
    if (rec.issuerPublicKey !== undefined && this.isRevoked(rec.orgPublicKey, rec.issuerPublicKey)) {
      return 'the org revoked its issuer';
    }
    return null;
  }

  /**
   * Allow/deny with the reason, checking in the spec's order (§7.8): self, authorized key,
   * recorded certificate, presented certificate, vouch. Departures: the all-zero and invalid
   * keys are refused first instead of admitted, and an empty trust set admits nobody unless open.
   */
  decide(q: AdmissionQuery): TrustDecision {
    if (q.peer.length === 32 && isAllZero(q.peer)) return deny('zero-key', 'the all-zero key is never admitted');
    const keyProblem = publicKeyProblem(q.peer);
    if (keyProblem !== null) return deny('invalid-key', `peer key ${keyProblem}`);
    if (this.self !== undefined && bytesEqual(q.peer, this.self)) return allow('self', 'our own key');
    if (this.open) return allow('open', 'open mode admits every valid key');

    const name = this.authorizedName(q.peer);
    if (name !== undefined) return allow('authorized-key', `authorized_keys/${name}.pub`);

    let recordedFailure: string | null = null;
    if (q.recordedCertificate !== undefined && bytesEqual(q.recordedCertificate.nodePublicKey, q.peer)) {
      recordedFailure = this.recordedCertificateProblem(q.recordedCertificate, q.now);
      if (recordedFailure === null) {
        return allow('recorded-certificate', `certificate of org ${orgDomain(q.recordedCertificate.orgPublicKey)}`);
      }
    }

    let certFailure: TrustDecision | null = null;
    if (q.presentedCertificate !== undefined) {
      const check = validateCertificate(q.presentedCertificate, {
        now: q.now,
        expectedNode: q.peer,
        isTrustedOrg: this.isTrustedOrg,
        isRevoked: this.isRevoked,
      });
      if (check.ok) return allow('certificate', `certificate of org ${orgDomain(q.presentedCertificate.orgPublicKey)}`);
      certFailure = deny(`certificate-${check.problem}`, check.message);
    }

    const voucher = this.vouchingOrg(q.peer);
    if (voucher !== undefined) return allow('vouched', `vouched by org ${voucher.name}`);

    if (certFailure !== null) return certFailure;
    if (recordedFailure !== null)
      return deny('recorded-certificate-invalid', `recorded certificate: ${recordedFailure}`);
    if (!this.hasTrustAnchors) {
      return deny('no-trust-configured', 'no authorized keys or trusted orgs are configured');
    }
    return deny('not-trusted', 'not an authorized key, and no valid certificate or vouch');
  }
}

function allow(reason: AllowReason, detail: string): TrustDecision {
  return { allowed: true, reason, detail };
}

function deny(reason: DenyReason, detail: string): TrustDecision {
  return { allowed: false, reason, detail };
}
