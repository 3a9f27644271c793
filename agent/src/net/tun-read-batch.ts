import { ArgumentError } from '@meshguard/core';

/**
 * The packets of one read, in fixed slots of one preallocated buffer that every batch reuses.
 * Everything here is valid only during the `onPackets` callback: the next read overwrites the
 * slots, and `count` is reset to 0 when the callback returns. Copy what must outlive it.
 *
 * `packet(i)` makes a subarray view (one small object); the hot path can use `buffer` with
 * `offset(i)`/`length(i)` instead and allocate nothing. `headroom` bytes before each packet and
 * the rest of its slot are free for in-place work, e.g. a WireGuard header and tag.
 */
export class TunReadBatch {
  /** The whole read buffer: `batchSize` slots of `slotSize` bytes. */
  readonly buffer: Uint8Array;
  /** Slot i's packet starts at offsets[i] (constant), so `writeBatch(buffer, offsets, lengths, count)` works as is. */
  readonly offsets: Uint32Array;
  /** Filled by the addon for the first `count` entries. */
  readonly lengths: Uint32Array;
  readonly slotSize: number;
  readonly headroom: number;
  count = 0;

  constructor(batchSize: number, slotSize: number, headroom: number) {
    this.buffer = new Uint8Array(batchSize * slotSize);
    this.offsets = new Uint32Array(batchSize);
    this.lengths = new Uint32Array(batchSize);
    this.slotSize = slotSize;
    this.headroom = headroom;
    for (let i = 0; i < batchSize; i++) this.offsets[i] = i * slotSize + headroom;
  }

  offset(i: number): number {
    this.check(i);
    return this.offsets[i]!;
  }

  length(i: number): number {
    this.check(i);
    return this.lengths[i]!;
  }

  /** A view of packet i into the shared buffer (not a copy). */
  packet(i: number): Uint8Array {
    this.check(i);
    const start = this.offsets[i]!;
    return this.buffer.subarray(start, start + this.lengths[i]!);
  }

  private check(i: number): void {
    if (!(i >= 0 && i < this.count)) {
      throw new ArgumentError(`packet index ${i} outside the batch of ${this.count} (used after the callback?)`);
    }
  }
}
