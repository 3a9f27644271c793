/** A FIFO whose items all wait the same time, so due times never decrease along it. */
class DueQueue<T> {
  #items: Array<{ readonly item: T; readonly attempts: number; readonly dueAt: number }> = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T, attempts: number, dueAt: number): void {
    this.#items.push({ item, attempts, dueAt });
  }

  /** The oldest item if it is due, removed. */
  shift(nowMs: number): { readonly item: T; readonly attempts: number } | null {
    const first = this.#items[this.#head];
    if (first === undefined || first.dueAt > nowMs) return null;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return first;
  }

  dropOldest(): void {
    if (this.size > 0) this.#head++;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/**
 * Members we learned of second-hand and have not heard from yet. Gossip rounds greet them
 * directly (a Ping with our self entry plus the usual rumours) until they answer — a member
 * that messages us knows us, so the pair is known both ways — a few times at most.
 * Without this, a pair whose two rumours both died out (loss, retransmit limits) stays
 * unknown until the round-robin happens to pair them, up to N periods later.
 *
 * Greetings may wait `delayMs` first, so pairs that exchange something on their own meanwhile
 * need none; in a 1000-node mass join a 5 s wait saved under 10 % of greetings and slowed
 * convergence by half, so the default is not to wait. A retry waits `retryMs`, time for the
 * first greeting's Ack. Bounded: past `capacity` the oldest first greeting is dropped.
 */
export class Introductions<T> {
  readonly capacity: number;
  readonly maxAttempts: number;
  readonly delayMs: number;
  readonly retryMs: number;
  readonly #fresh = new DueQueue<T>();
  readonly #retries = new DueQueue<T>();

  constructor(capacity: number, maxAttempts: number, delayMs: number, retryMs: number) {
    this.capacity = capacity;
    this.maxAttempts = maxAttempts;
    this.delayMs = delayMs;
    this.retryMs = retryMs;
  }

  get size(): number {
    return this.#fresh.size + this.#retries.size;
  }

  add(item: T, nowMs: number): void {
    if (this.maxAttempts <= 0) return;
    if (this.size >= this.capacity) this.#fresh.dropOldest();
    this.#fresh.push(item, 0, nowMs + this.delayMs);
  }

  /** Up to `count` items due by `nowMs`; `pending` says whether one still needs greeting. */
  take(count: number, nowMs: number, pending: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (const queue of [this.#retries, this.#fresh]) {
      while (out.length < count) {
        const next = queue.shift(nowMs);
        if (next === null) break;
        if (!pending(next.item) || out.includes(next.item)) continue;
        out.push(next.item);
        if (next.attempts + 1 < this.maxAttempts && this.size < this.capacity) {
          this.#retries.push(next.item, next.attempts + 1, nowMs + this.retryMs);
        }
      }
    }
    return out;
  }

  clear(): void {
    this.#fresh.clear();
    this.#retries.clear();
  }
}
