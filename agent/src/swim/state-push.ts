import type { Member } from './member.js';

/** A push of our member list to one member, a few messages per gossip round. */
export interface PushSession {
  readonly target: Member;
  readonly keys: readonly string[];
  cursor: number;
}

/**
 * The wire has no state-sync message (memberlist's TCP push/pull), so a member that just
 * contacted us is sent our view as ordinary Pings full of `alive` entries — the reference
 * applies those like any gossip — and a random member gets a slice of it every push
 * interval, which repairs rumours lost to packet loss. Sessions are few and paced.
 */
export class StatePushes {
  readonly capacity: number;
  #sessions: PushSession[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#sessions.length;
  }

  start(target: Member, keys: readonly string[]): boolean {
    if (keys.length === 0 || this.#sessions.length >= this.capacity) return false;
    if (this.#sessions.some((s) => s.target === target)) return false;
    this.#sessions.push({ target, keys, cursor: 0 });
    return true;
  }

  sessions(): readonly PushSession[] {
    return this.#sessions;
  }

  /** Drops finished sessions and sessions whose target is no longer live. */
  prune(isCurrent: (target: Member) => boolean): void {
    this.#sessions = this.#sessions.filter((s) => s.cursor < s.keys.length && isCurrent(s.target));
  }

  clear(): void {
    this.#sessions = [];
  }
}
