import type { Member } from './member.js';

/** A push of our member list to one member, a few messages per gossip round. */
export interface PushSession {
  readonly target: Member;
  readonly keys: readonly string[];
  cursor: number;
}

/**
 * A Ping whose seq has this bit set asks the recipient for its view (memberlist's pull). The
 * reference's seqs count up from small numbers and ours stay below 2^48, so the bit is free;
 * an implementation that does not know it just answers the Ping. (Bit 63 marks introduction
 * requests, on PingReqs.)
 */
export const STATE_REQUEST_SEQ_FLAG = 1n << 62n;

/**
 * The wire has no state-sync message (memberlist's TCP push/pull), so a member that just
 * contacted us, or asked (see STATE_REQUEST_SEQ_FLAG), is sent our view as ordinary Acks full
 * of `alive` entries — the reference applies those like any gossip — and a random member gets
 * a slice of it every push interval, which repairs rumours lost to packet loss. Sessions are
 * few and paced; requests beyond them wait in a short queue rather than going unanswered.
 */
export class StatePushes {
  readonly capacity: number;
  readonly waitingCapacity: number;
  #sessions: PushSession[] = [];
  #waiting: Member[] = [];

  constructor(capacity: number, waitingCapacity = 0) {
    this.capacity = capacity;
    this.waitingCapacity = waitingCapacity;
  }

  get size(): number {
    return this.#sessions.length;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** True when a session could start now. */
  get free(): boolean {
    return this.#sessions.length < this.capacity;
  }

  pushingTo(target: Member): boolean {
    return this.#sessions.some((s) => s.target === target) || this.#waiting.includes(target);
  }

  /** Queues a push to `target` for when a session frees up; false if the queue is full. */
  wait(target: Member): boolean {
    if (this.pushingTo(target) || this.#waiting.length >= this.waitingCapacity) return false;
    this.#waiting.push(target);
    return true;
  }

  /** The longest-waiting target that `isCurrent` still accepts, removed from the queue. */
  nextWaiting(isCurrent: (target: Member) => boolean): Member | undefined {
    for (;;) {
      const target = this.#waiting.shift();
      if (target === undefined || isCurrent(target)) return target;
    }
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
    this.#waiting = [];
  }
}
