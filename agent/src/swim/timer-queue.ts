import { MinHeap, type HeapItem } from './min-heap.js';

/** A scheduled callback; cancelling only marks it, the heap drops it when it surfaces. */
export interface Timer extends HeapItem {
  cancelled: boolean;
  readonly fire: () => void;
}

/**
 * The node's timers as data: nothing runs until `runDue(now)` is called, so the owner decides
 * when time passes (a daemon loop, a test, the simulator) and `nextAt()` tells it when to.
 */
export class TimerQueue {
  readonly #heap = new MinHeap<Timer>();

  schedule(at: number, fire: () => void): Timer {
    const timer: Timer = { at, order: 0, cancelled: false, fire };
    this.#heap.push(timer);
    return timer;
  }

  /** Earliest live deadline, or Infinity. */
  nextAt(): number {
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined) return Infinity;
      if (!top.cancelled) return top.at;
      this.#heap.pop();
    }
  }

  /** Fires every live timer due at `now`, including ones scheduled for `now` while running. */
  runDue(now: number): void {
    for (;;) {
      const top = this.#heap.peek();
      if (top === undefined || top.at > now) return;
      this.#heap.pop();
      if (!top.cancelled) {
        top.cancelled = true;
        top.fire();
      }
    }
  }

  get size(): number {
    return this.#heap.size;
  }

  clear(): void {
    this.#heap.clear();
  }
}

export function cancelTimer(timer: Timer | null): null {
  if (timer !== null) timer.cancelled = true;
  return null;
}
