import {
  toHex,
  TrustSet,
  type AdmissionQuery,
  type RevocationOutcome,
  type TrustDecision,
  type VouchOutcome,
} from '@meshguard/core';
import type { TrustAuthority } from '../swim/admission-gate.js';

/**
 * One open-mode trust set shared by every simulated host, with `decide` memoised per key
 * (and presented certificate). A decision costs a curve-point check (~0.1 ms), and a
 * thousand hosts each judging a thousand peers would spend minutes on it — a cost that a
 * real mesh spreads over a thousand machines. Sharing is only sound because every host has
 * the same configuration and it never changes: org messages are refused here, so a run that
 * needs revocations or vouches must give each host its own `TrustSet`.
 */
export class SharedOpenTrust implements TrustAuthority {
  readonly #inner = new TrustSet({ open: true });
  readonly #memo = new Map<string, TrustDecision>();

  decide(q: AdmissionQuery): TrustDecision {
    const key =
      toHex(q.peer) +
      (q.presentedCertificate === undefined ? '' : `/${toHex(q.presentedCertificate.signature)}`) +
      (q.recordedCertificate === undefined ? '' : '/r');
    let decision = this.#memo.get(key);
    if (decision === undefined) {
      decision = this.#inner.decide(q);
      this.#memo.set(key, decision);
    }
    return decision;
  }

  applyRevocation(): RevocationOutcome {
    return 'bad-signature';
  }

  applyVouch(): VouchOutcome {
    return 'bad-signature';
  }

  isTrustedOrg(): boolean {
    return false;
  }

  isRevoked(): boolean {
    return false;
  }
}
