/** One batch of org datagrams to deliver to a list of members. */
interface FloodJob {
  readonly messages: readonly Uint8Array[];
  readonly targets: readonly string[];
  /** Position in targets × messages. */
  next: number;
}

/**
 * Spreading verified revocations (spec §5.3) as standalone datagrams: a first application
 * floods the message to every live member once, newcomers are caught up with what we
 * remember, and a few random members are refreshed periodically. Every receiver re-floods on
 * *its* first application, so one pass per node already gives each member N independent
 * copies; the reference's six passes to everyone every 30 s, forever, cost O(N²) datagrams
 * per revocation per half minute and add nothing. Jobs are paced by the caller's limiter and
 * the queue is bounded (oldest job dropped).
 */
export class OrgFlood {
  readonly capacity: number;
  readonly #jobs: FloodJob[] = [];

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get pending(): number {
    return this.#jobs.length;
  }

  enqueue(messages: readonly Uint8Array[], targets: readonly string[]): void {
    if (messages.length === 0 || targets.length === 0) return;
    if (this.#jobs.length >= this.capacity) this.#jobs.shift();
    this.#jobs.push({ messages, targets, next: 0 });
  }

  /**
   * Hands out (message, target) pairs while `send` accepts them; `send` returns false when
   * the limiter is out of tokens, and the pair is offered again next time.
   */
  pump(send: (message: Uint8Array, target: string) => boolean): void {
    while (this.#jobs.length > 0) {
      const job = this.#jobs[0]!;
      const total = job.messages.length * job.targets.length;
      while (job.next < total) {
        const message = job.messages[job.next % job.messages.length]!;
        const target = job.targets[Math.floor(job.next / job.messages.length)]!;
        if (!send(message, target)) return;
        job.next++;
      }
      this.#jobs.shift();
    }
  }

  clear(): void {
    this.#jobs.length = 0;
  }
}
