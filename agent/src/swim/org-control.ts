import {
  DecodeError,
  decodeOrgMessage,
  ORG_ALIAS_BYTES,
  ORG_REVOKE_BYTES,
  ORG_VOUCH_BYTES,
  TAG_ORG_ALIAS,
  TAG_ORG_REVOKE,
  TAG_ORG_VOUCH,
  toHex,
  verifyOrgMessage,
  type OrgCertRevoke,
  type OrgMessage,
  type OrgTrustVouch,
  TokenBucket,
} from '@meshguard/core';
import type { TrustAuthority } from './admission-gate.js';
import { AliasTable, type AliasOutcome } from './alias-table.js';
import { RecentSet } from './recent-set.js';

export type OrgOutcome =
  | { readonly kind: 'revocation'; readonly message: OrgCertRevoke; readonly bytes: Uint8Array }
  | { readonly kind: 'vouch'; readonly message: OrgTrustVouch }
  | { readonly kind: 'alias'; readonly change: Extract<AliasOutcome, { changed: true }> }
  | { readonly kind: 'ignored'; readonly reason: OrgIgnoredReason };

/** Why an org message changed nothing: a fixed set (metrics label these, see ORG_OUTCOMES). */
export const ORG_IGNORED_REASONS = [
  'malformed',
  'duplicate',
  'untrusted-org',
  'bad-signature',
  'verification-budget',
  'capacity',
  'revoked',
  'alias-refreshed',
  'alias-stale',
  'alias-conflict',
  'alias-capacity',
] as const;

export type OrgIgnoredReason = (typeof ORG_IGNORED_REASONS)[number];

/** Every way an org message can end: applied (by kind) or ignored (by reason). */
export const ORG_OUTCOMES = ['revocation', 'vouch', 'alias', ...ORG_IGNORED_REASONS] as const;

export type OrgOutcomeLabel = (typeof ORG_OUTCOMES)[number];

export interface OrgControlLimits {
  readonly checksPerSecond: number;
  readonly checkBurst: number;
  /** Exact-byte dedup memory. */
  readonly seenCapacity: number;
  /** Verified revocations kept for re-broadcast and for catching up newcomers. */
  readonly rememberedRevocations: number;
  readonly aliasCapacity: number;
}

/**
 * Org control messages 0x41–0x43 (spec §5). They bypass the sender gate — their authority
 * is the org's signature — so they are checked in order of cost: exact-byte dedup, trusted
 * org, a signature budget, then the signature. Only then are they applied to the trust set
 * (revocation, vouch) or the alias table. Dedup keys on the message's fixed length, so the
 * trailing bytes decoders tolerate cannot make one message look like many.
 */
export class OrgControl {
  readonly #trust: TrustAuthority;
  readonly #checks: TokenBucket;
  readonly #seen: RecentSet;
  readonly #remembered: Uint8Array[] = [];
  readonly #rememberedCapacity: number;
  readonly aliases: AliasTable;

  constructor(trust: TrustAuthority, limits: OrgControlLimits) {
    this.#trust = trust;
    this.#checks = TokenBucket.perSecond(limits.checksPerSecond, limits.checkBurst);
    this.#seen = new RecentSet(limits.seenCapacity);
    this.#rememberedCapacity = limits.rememberedRevocations;
    this.aliases = new AliasTable(limits.aliasCapacity);
  }

  get seenCount(): number {
    return this.#seen.size;
  }

  /** Verified revocation datagrams, oldest first. */
  remembered(): readonly Uint8Array[] {
    return this.#remembered;
  }

  receive(datagram: Uint8Array, nowMs: number): OrgOutcome {
    const length = canonicalLength(datagram[0]);
    if (length === null || datagram.length < length) return ignored('malformed');
    const bytes = datagram.subarray(0, length);
    const id = toHex(bytes);
    if (this.#seen.has(id, nowMs)) return ignored('duplicate');
    let message: OrgMessage;
    try {
      message = decodeOrgMessage(bytes);
    } catch (err) {
      if (err instanceof DecodeError) return ignored('malformed');
      throw err;
    }
    if (!this.#trust.isTrustedOrg(message.orgPublicKey)) return ignored('untrusted-org');
    // Out of budget: not remembered as seen, so a later copy still gets its chance.
    if (!this.#checks.take(nowMs)) return ignored('verification-budget');
    this.#seen.add(id, nowMs);
    if (!verifyOrgMessage(message)) return ignored('bad-signature');
    return this.#apply(message, Uint8Array.from(bytes));
  }

  #apply(message: OrgMessage, bytes: Uint8Array): OrgOutcome {
    switch (message.kind) {
      case 'revoke': {
        const outcome = this.#trust.applyRevocation(message);
        if (outcome === 'duplicate') return ignored('duplicate');
        if (outcome !== 'applied') return ignored(outcome);
        this.#remember(bytes);
        return { kind: 'revocation', message, bytes };
      }
      case 'vouch': {
        const outcome = this.#trust.applyVouch(message);
        if (outcome === 'applied') return { kind: 'vouch', message };
        return ignored(outcome);
      }
      case 'alias': {
        const change = this.aliases.apply(message);
        if (change.changed) return { kind: 'alias', change };
        return ignored(`alias-${change.reason}`);
      }
    }
  }

  #remember(bytes: Uint8Array): void {
    if (this.#remembered.length >= this.#rememberedCapacity) this.#remembered.shift();
    this.#remembered.push(bytes);
  }
}

function canonicalLength(tag: number | undefined): number | null {
  switch (tag) {
    case TAG_ORG_ALIAS:
      return ORG_ALIAS_BYTES;
    case TAG_ORG_REVOKE:
      return ORG_REVOKE_BYTES;
    case TAG_ORG_VOUCH:
      return ORG_VOUCH_BYTES;
    default:
      return null;
  }
}

function ignored(reason: OrgIgnoredReason): OrgOutcome {
  return { kind: 'ignored', reason };
}
