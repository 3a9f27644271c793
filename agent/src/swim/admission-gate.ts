import {
  bytesEqual,
  DecodeError,
  decodeNodeCertificate,
  toHex,
  validateCertificate,
  type AdmissionQuery,
  type AllowReason,
  type DenyReason,
  type NodeCertificate,
  type OrgCertRevoke,
  type OrgTrustVouch,
  type RevocationOutcome,
  type TrustDecision,
  type VouchOutcome,
  TokenBucket,
} from '@meshguard/core';
import type { Member } from './member.js';
import { RecentSet } from './recent-set.js';
import type { SwimClock } from './swim-clock.js';

/**
 * What the SWIM node needs from local trust. `TrustSet` from core is the implementation; the
 * interface exists so the simulator can share one memoised trust across a thousand nodes.
 */
export interface TrustAuthority {
  decide(q: AdmissionQuery): TrustDecision;
  applyRevocation(m: OrgCertRevoke): RevocationOutcome;
  applyVouch(m: OrgTrustVouch): VouchOutcome;
  isTrustedOrg(org: Uint8Array): boolean;
  isRevoked(org: Uint8Array, node: Uint8Array): boolean;
}

export type AdmissionRefusal = DenyReason | 'verification-budget' | 'recently-refused';

export type Admission =
  | {
      readonly allowed: true;
      readonly reason: AllowReason;
      readonly untilSeconds: number;
      /** A presented certificate that validated now and should be recorded (and may bind a WireGuard key). */
      readonly certificate: NodeCertificate | null;
      readonly certificateBytes: Uint8Array | null;
    }
  | { readonly allowed: false; readonly reason: AdmissionRefusal };

export interface AdmissionLimits {
  /** Signature checks of presented certificates per second, and burst. */
  readonly certificateChecksPerSecond: number;
  readonly certificateCheckBurst: number;
  /** How many refused keys / certificates are remembered, and for how long. */
  readonly refusedCacheSize: number;
  readonly refusedTtlMs: number;
}

/**
 * The trust gate in front of every state change (spec §7.8): a message's claimed sender, and
 * every join/alive subject, must pass `TrustSet.decide` before anything is recorded.
 *
 * Decisions are cached per member and reused until the trust epoch moves (any trust change)
 * or a certificate behind the decision expires, because `decide` costs a curve-point check and
 * a certificate a signature check, and a busy node sees every member many times a second.
 * Certificate checks for new bytes draw on a token bucket, and refused keys and certificates
 * are remembered for a while, so a flood of made-up senders costs bounded CPU and memory.
 */
export class AdmissionGate {
  readonly trust: TrustAuthority;
  readonly #clock: SwimClock;
  readonly #checks: TokenBucket;
  readonly #refusedKeys: RecentSet;
  readonly #refusedCertificates: RecentSet;
  #epoch = 0;

  constructor(trust: TrustAuthority, clock: SwimClock, limits: AdmissionLimits) {
    this.trust = trust;
    this.#clock = clock;
    this.#checks = TokenBucket.perSecond(limits.certificateChecksPerSecond, limits.certificateCheckBurst);
    this.#refusedKeys = new RecentSet(limits.refusedCacheSize, limits.refusedTtlMs);
    this.#refusedCertificates = new RecentSet(limits.refusedCacheSize, limits.refusedTtlMs);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Sizes of the bounded caches, for memory accounting. */
  get cacheSizes(): { readonly refusedKeys: number; readonly refusedCertificates: number } {
    return { refusedKeys: this.#refusedKeys.size, refusedCertificates: this.#refusedCertificates.size };
  }

  /** Trust changed (revocation, vouch, reloaded files): every cached decision is stale. */
  invalidate(): void {
    this.#epoch++;
    this.#refusedKeys.clear();
    this.#refusedCertificates.clear();
  }

  /** Unix seconds now, as trust decisions measure expiry. */
  nowSeconds(): bigint {
    return BigInt(Math.floor(this.#clock.wallMs() / 1000));
  }

  isCached(member: Member): boolean {
    const a = member.admission;
    if (a === null || a.epoch !== this.#epoch) return false;
    return a.untilSeconds === Infinity || Math.floor(this.#clock.wallMs() / 1000) < a.untilSeconds;
  }

  /** The sender of a Ping/Ack (with its certificate slot, if any) or of a PingReq (null). */
  admitSender(publicKey: Uint8Array, key: string, presented: Uint8Array | null, member: Member | undefined): Admission {
    const sameCertificate =
      presented === null ||
      (member?.certificateBytes !== null && member?.certificateBytes !== undefined
        ? bytesEqual(presented, member.certificateBytes)
        : false);
    if (member !== undefined && sameCertificate && this.isCached(member)) return member.admission!;
    const nowMs = this.#clock.nowMs();
    const certificate = sameCertificate ? null : this.#screen(publicKey, presented, nowMs);
    if (member === undefined && certificate === null && this.#refusedKeys.has(key, nowMs)) {
      return { allowed: false, reason: 'recently-refused' };
    }
    const now = this.nowSeconds();
    const decision = this.trust.decide({
      peer: publicKey,
      now,
      ...(certificate === null ? {} : { presentedCertificate: certificate }),
      ...(member?.certificate === undefined ? {} : { recordedCertificate: member.certificate }),
    });
    if (!decision.allowed) {
      if (certificate !== null && presented !== null && decision.reason.startsWith('certificate-')) {
        this.#refusedCertificates.add(toHex(presented), nowMs);
      }
      if (member === undefined && presented === null) this.#refusedKeys.add(key, nowMs);
      return { allowed: false, reason: decision.reason };
    }
    let accepted: NodeCertificate | null = null;
    if (certificate !== null) {
      if (decision.reason === 'certificate') {
        accepted = certificate;
      } else {
        // Admitted some other way before decide looked at the certificate; we still want it
        // checked before it is recorded or binds a WireGuard key.
        const check = validateCertificate(certificate, {
          now,
          expectedNode: publicKey,
          isTrustedOrg: (org) => this.trust.isTrustedOrg(org),
          isRevoked: (org, node) => this.trust.isRevoked(org, node),
        });
        if (check.ok) accepted = certificate;
        else if (presented !== null) this.#refusedCertificates.add(toHex(presented), nowMs);
      }
    }
    const expiresAt = accepted !== null ? accepted.expiresAt : member?.certificate?.expiresAt;
    return {
      allowed: true,
      reason: decision.reason,
      untilSeconds: untilSeconds(decision.reason, accepted !== null, expiresAt),
      certificate: accepted,
      certificateBytes: accepted === null || presented === null ? null : Uint8Array.from(presented),
    };
  }

  /** A join/alive gossip subject: no certificate travels in gossip, so rules 1–4 and 6 only. */
  admitSubject(publicKey: Uint8Array, key: string, member: Member | undefined): Admission {
    if (member !== undefined && this.isCached(member)) return member.admission!;
    const nowMs = this.#clock.nowMs();
    if (member === undefined && this.#refusedKeys.has(key, nowMs))
      return { allowed: false, reason: 'recently-refused' };
    const decision = this.trust.decide({
      peer: publicKey,
      now: this.nowSeconds(),
      ...(member?.certificate === undefined ? {} : { recordedCertificate: member.certificate }),
    });
    if (!decision.allowed) {
      if (member === undefined) this.#refusedKeys.add(key, nowMs);
      return { allowed: false, reason: decision.reason };
    }
    return {
      allowed: true,
      reason: decision.reason,
      untilSeconds: untilSeconds(decision.reason, false, member?.certificate?.expiresAt),
      certificate: null,
      certificateBytes: null,
    };
  }

  /**
   * Cheap checks before a signature is spent on a presented certificate: remembered
   * failures, decoding, that it names the sender, that its org is one we trust, and the
   * verification budget. Null means "treat as if absent".
   */
  #screen(publicKey: Uint8Array, presented: Uint8Array | null, nowMs: number): NodeCertificate | null {
    if (presented === null) return null;
    const id = toHex(presented);
    if (this.#refusedCertificates.has(id, nowMs)) return null;
    let certificate: NodeCertificate;
    try {
      certificate = decodeNodeCertificate(presented);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#refusedCertificates.add(id, nowMs);
      return null;
    }
    if (!bytesEqual(certificate.nodePublicKey, publicKey) || !this.trust.isTrustedOrg(certificate.orgPublicKey)) {
      this.#refusedCertificates.add(id, nowMs);
      return null;
    }
    return this.#checks.take(nowMs) ? certificate : null;
  }
}

/** How long a positive decision may be reused: until the certificate behind it expires. */
function untilSeconds(reason: AllowReason, fresh: boolean, expiresAt: bigint | undefined): number {
  const byCertificate = reason === 'certificate' || reason === 'recorded-certificate' || fresh;
  if (!byCertificate || expiresAt === undefined || expiresAt === 0n) return Infinity;
  return Number(expiresAt);
}
