/**
 * A bounded set of recently seen keys with an optional time to live: the oldest entry goes
 * when it is full. Used wherever the node must remember what it saw without letting a flood
 * of distinct inputs grow its memory (org-message dedup, refused keys and certificates).
 */
export class RecentSet {
  readonly capacity: number;
  readonly ttlMs: number;
  readonly #at = new Map<string, number>();

  constructor(capacity: number, ttlMs = Infinity) {
    this.capacity = capacity;
    this.ttlMs = ttlMs;
  }

  get size(): number {
    return this.#at.size;
  }

  has(key: string, now: number): boolean {
    const at = this.#at.get(key);
    if (at === undefined) return false;
    if (now - at > this.ttlMs) {
      this.#at.delete(key);
      return false;
    }
    return true;
  }

  add(key: string, now: number): void {
    this.#at.delete(key);
    if (this.#at.size >= this.capacity) {
      const oldest = this.#at.keys().next().value;
      if (oldest !== undefined) this.#at.delete(oldest);
    }
    this.#at.set(key, now);
  }

  delete(key: string): void {
    this.#at.delete(key);
  }

  clear(): void {
    this.#at.clear();
  }
}
