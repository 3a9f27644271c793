import type { Member, MemberState } from './member.js';
import { ProbeOrder } from './probe-order.js';
import type { RandomSource } from './random-source.js';

/**
 * The bounded member map. At capacity a newcomer may take the place of a member that left
 * or died (longest gone first); alive and suspected members are never evicted, so a flood
 * of introductions cannot push real peers out — the newcomer is refused instead.
 */
export class MembershipTable {
  readonly capacity: number;
  readonly #members = new Map<string, Member>();
  /** The same members by a number taken from their key's first bytes (see `lookup`). */
  readonly #byPrefix = new Map<number, Member | Member[]>();
  readonly #order: ProbeOrder<Member>;
  #live = 0;

  constructor(capacity: number, random: RandomSource) {
    this.capacity = capacity;
    this.#order = new ProbeOrder(random);
  }

  get size(): number {
    return this.#members.size;
  }

  /** Alive plus suspected: the n in the log-scaled timeouts and retransmit limits. */
  get liveCount(): number {
    return this.#live;
  }

  get(key: string): Member | undefined {
    return this.#members.get(key);
  }

  /**
   * The member with this public key. Every sender and gossip subject is looked up, and a
   * small-integer map probe plus a byte compare costs a fraction of building and hashing a
   * string key; prefixes that collide (by chance or by grinding) just share a short list.
   */
  lookup(publicKey: Uint8Array): Member | undefined {
    if (publicKey.length !== 32) return undefined;
    const found = this.#byPrefix.get(prefixOf(publicKey));
    if (found === undefined) return undefined;
    if (!Array.isArray(found)) return sameKey(found.key, publicKey) ? found : undefined;
    for (const m of found) if (sameKey(m.key, publicKey)) return m;
    return undefined;
  }

  values(): IterableIterator<Member> {
    return this.#members.values();
  }

  /** Every member, in no particular order, for random sampling. */
  all(): readonly Member[] {
    return this.#order.items();
  }

  /**
   * Adds a member, evicting a gone one if needed. Returns the evicted member (the caller
   * cleans up its timers), `null` when nothing had to go, or `false` when the table is full
   * of live members and the newcomer is refused.
   */
  add(member: Member): Member | null | false {
    let evicted: Member | null = null;
    if (this.#members.size >= this.capacity) {
      const victim = this.#evictionCandidate();
      if (victim === null) return false;
      this.remove(victim.key);
      evicted = victim;
    }
    this.#members.set(member.key, member);
    const prefix = prefixOf(member.publicKey);
    const found = this.#byPrefix.get(prefix);
    if (found === undefined) this.#byPrefix.set(prefix, member);
    else if (Array.isArray(found)) found.push(member);
    else this.#byPrefix.set(prefix, [found, member]);
    this.#order.add(member);
    if (member.state === 'alive' || member.state === 'suspect') this.#live++;
    return evicted;
  }

  remove(key: string): Member | undefined {
    const member = this.#members.get(key);
    if (member === undefined) return undefined;
    this.#members.delete(key);
    const prefix = prefixOf(member.publicKey);
    const found = this.#byPrefix.get(prefix)!;
    if (!Array.isArray(found)) this.#byPrefix.delete(prefix);
    else {
      found.splice(found.indexOf(member), 1);
      if (found.length === 1) this.#byPrefix.set(prefix, found[0]!);
    }
    this.#order.remove(member);
    if (member.state === 'alive' || member.state === 'suspect') this.#live--;
    return member;
  }

  setState(member: Member, state: MemberState, now: number): void {
    const wasLive = member.state === 'alive' || member.state === 'suspect';
    const isLive = state === 'alive' || state === 'suspect';
    if (wasLive !== isLive && this.#members.get(member.key) === member) this.#live += isLive ? 1 : -1;
    member.state = state;
    member.stateChangedAt = now;
  }

  /** The next member to probe in the shuffled round-robin, or null. */
  nextProbeTarget(eligible: (m: Member) => boolean): Member | null {
    return this.#order.next(eligible);
  }

  #evictionCandidate(): Member | null {
    let best: Member | null = null;
    for (const m of this.#members.values()) {
      if (m.state !== 'left' && m.state !== 'dead') continue;
      if (
        best === null ||
        (m.state === 'left' && best.state === 'dead') ||
        (m.state === best.state && m.stateChangedAt < best.stateChangedAt)
      ) {
        best = m;
      }
    }
    return best;
  }
}

/** 30 bits, so the number stays a V8 small integer on every platform. */
function prefixOf(k: Uint8Array): number {
  return k[0]! | (k[1]! << 8) | (k[2]! << 16) | ((k[3]! & 0x3f) << 24);
}

/**
 * A member key (one Latin-1 character per byte) against key bytes: one memory access fewer
 * than comparing two typed arrays. Public keys only, so stopping early leaks nothing.
 */
function sameKey(key: string, bytes: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (key.charCodeAt(i) !== bytes[i]) return false;
  return true;
}
