import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { MinHeap, type HeapItem } from '../swim/min-heap.js';

export type SimEvent =
  | {
      readonly at: number;
      order: number;
      readonly kind: 'deliver';
      readonly to: number;
      readonly from: UdpEndpoint;
      readonly bytes: Uint8Array;
      /** Already held back by a slow host; deliver now. */
      readonly late: boolean;
    }
  | { readonly at: number; order: number; readonly kind: 'tick'; readonly host: number }
  | { readonly at: number; order: number; readonly kind: 'call'; readonly fn: () => void };

/**
 * Virtual time: events in deadline order, equal deadlines in scheduling order, so a run is
 * a pure function of its seed. Nothing here reads a real clock or sets a real timer.
 */
export class EventQueue {
  readonly #heap = new MinHeap<SimEvent & HeapItem>();
  #now = 0;

  get now(): number {
    return this.#now;
  }

  get size(): number {
    return this.#heap.size;
  }

  push(event: SimEvent): void {
    this.#heap.push(event);
  }

  /** The next event at or before `until`, advancing the clock to it; undefined if none. */
  next(until: number): SimEvent | undefined {
    const top = this.#heap.peek();
    if (top === undefined || top.at > until) {
      if (until > this.#now && Number.isFinite(until)) this.#now = until;
      return undefined;
    }
    this.#heap.pop();
    if (top.at > this.#now) this.#now = top.at;
    return top;
  }
}
