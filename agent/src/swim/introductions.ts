/**
 * Members we learned of second-hand and have not heard from yet. Gossip rounds greet them
 * directly (our self entry plus the usual rumours) until they answer with anything, a few
 * times at most: a member that messages us knows us, so the pair is known both ways. Without
 * this, a pair whose two rumours both died out (loss, retransmit limits) stays unknown until
 * the round-robin happens to pair them, up to N periods later. A bounded FIFO; greeted keys go
 * to the back, which spaces the retries by the length of the queue.
 */
export class Introductions<T> {
  readonly capacity: number;
  readonly maxAttempts: number;
  #queue: Array<{ readonly item: T; attempts: number }> = [];
  #head = 0;

  constructor(capacity: number, maxAttempts: number) {
    this.capacity = capacity;
    this.maxAttempts = maxAttempts;
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  add(item: T): void {
    if (this.size >= this.capacity) this.#head++;
    this.#queue.push({ item, attempts: 0 });
  }

  /** Up to `count` items to greet now; `pending` says whether one still needs greeting. */
  take(count: number, pending: (item: T) => boolean): T[] {
    const out: T[] = [];
    const retry: Array<{ readonly item: T; attempts: number }> = [];
    while (out.length < count && this.#head < this.#queue.length) {
      const entry = this.#queue[this.#head++]!;
      if (!pending(entry.item) || out.includes(entry.item)) continue;
      out.push(entry.item);
      if (++entry.attempts < this.maxAttempts) retry.push(entry);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    for (const entry of retry) if (this.size < this.capacity) this.#queue.push(entry);
    return out;
  }

  clear(): void {
    this.#queue = [];
    this.#head = 0;
  }
}
