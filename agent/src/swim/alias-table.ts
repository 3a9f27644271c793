import { aliasText, toHex, type OrgAliasAnnounce } from '@meshguard/core';

export interface AliasRecord {
  readonly org: Uint8Array;
  readonly alias: string;
  readonly lamport: bigint;
}

export type AliasOutcome =
  | {
      readonly changed: true;
      readonly current: AliasRecord;
      /** The org's alias before this one, if it had one. */
      readonly previous: AliasRecord | null;
      /** Another org's claim to the same alias that this earlier claim displaced. */
      readonly displaced: AliasRecord | null;
    }
  | { readonly changed: false; readonly reason: 'refreshed' | 'stale' | 'conflict' | 'capacity' };

/**
 * Org aliases (spec §5.2), one per org, one org per alias, ordered by the messages' Lamport
 * stamps. A different org takes an alias only with a strictly earlier claim (earliest wins,
 * as in the reference). Unlike the reference, an org's rename must also be newer than its
 * current alias: the reference replaces it unconditionally, so replaying an old announcement
 * would flip the name back. Signature and shape checks happen before this table is reached.
 */
export class AliasTable {
  readonly capacity: number;
  readonly #byOrg = new Map<string, AliasRecord>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#byOrg.size;
  }

  entries(): readonly AliasRecord[] {
    return [...this.#byOrg.values()];
  }

  aliasOf(org: Uint8Array): AliasRecord | undefined {
    return this.#byOrg.get(toHex(org));
  }

  apply(m: OrgAliasAnnounce): AliasOutcome {
    const alias = aliasText(m);
    const orgKey = toHex(m.orgPublicKey);
    const own = this.#byOrg.get(orgKey) ?? null;
    let holderKey: string | null = null;
    let holder: AliasRecord | null = null;
    for (const [k, r] of this.#byOrg) {
      if (r.alias === alias) {
        holderKey = k;
        holder = r;
        break;
      }
    }
    if (holder !== null && holderKey === orgKey) {
      if (m.lamport > holder.lamport) this.#byOrg.set(orgKey, { ...holder, lamport: m.lamport });
      return { changed: false, reason: 'refreshed' };
    }
    if (own !== null && m.lamport <= own.lamport) return { changed: false, reason: 'stale' };
    if (holder !== null && !(m.lamport < holder.lamport)) return { changed: false, reason: 'conflict' };
    if (own === null && holder === null && this.#byOrg.size >= this.capacity) {
      return { changed: false, reason: 'capacity' };
    }
    if (holderKey !== null) this.#byOrg.delete(holderKey);
    const current: AliasRecord = { org: Uint8Array.from(m.orgPublicKey), alias, lamport: m.lamport };
    this.#byOrg.set(orgKey, current);
    return { changed: true, current, previous: own, displaced: holder };
  }
}
