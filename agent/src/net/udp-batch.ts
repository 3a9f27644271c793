import { ArgumentError } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { ADDRESS_BYTES, checkPort, EndpointNameCache, formatAddress, type DestinationCache } from './udp-address.js';

/**
 * The datagrams of one receive, in fixed slots of one preallocated buffer that every batch
 * reuses, with their sources in parallel typed arrays. Everything here is valid only during
 * the `onDatagrams` callback: the next receive overwrites it, and `count` is reset to 0 when
 * the callback returns. Copy what must outlive it (the UdpEndpoint objects may be kept).
 *
 * `datagram(i)` makes a subarray view (one small object); the hot path can use `buffer` with
 * `offsets[i]`/`lengths[i]` and allocate nothing. `headroom` bytes before each datagram and the
 * rest of its slot are free for in-place work. `addresses`/`ports` have sendBatch's layout, so
 * a reply to each sender can pass them on unchanged.
 */
export class UdpReadBatch {
  /** The whole receive buffer: `batchSize` slots of `slotSize` bytes. */
  readonly buffer: Uint8Array;
  /** Slot i's datagram starts at offsets[i] (constant). */
  readonly offsets: Uint32Array;
  /** Filled by the addon for the first `count` entries. */
  readonly lengths: Uint32Array;
  /** Source of datagram i: addresses[16i, +16), IPv4 as ::ffff:a.b.c.d. */
  readonly addresses: Uint8Array;
  readonly ports: Uint16Array;
  /** 4 or 6: whether datagram i came over IPv4 (its address is the mapped form) or IPv6. */
  readonly families: Uint8Array;
  readonly slotSize: number;
  readonly headroom: number;
  count = 0;
  readonly #words: Uint32Array;
  readonly #names: EndpointNameCache;

  constructor(batchSize: number, slotSize: number, headroom: number, names = new EndpointNameCache()) {
    this.buffer = new Uint8Array(batchSize * slotSize);
    this.offsets = new Uint32Array(batchSize);
    this.lengths = new Uint32Array(batchSize);
    this.addresses = new Uint8Array(batchSize * ADDRESS_BYTES);
    this.ports = new Uint16Array(batchSize);
    this.families = new Uint8Array(batchSize);
    this.slotSize = slotSize;
    this.headroom = headroom;
    this.#words = new Uint32Array(this.addresses.buffer);
    this.#names = names;
    for (let i = 0; i < batchSize; i++) this.offsets[i] = i * slotSize + headroom;
  }

  offset(i: number): number {
    this.#check(i);
    return this.offsets[i]!;
  }

  length(i: number): number {
    this.#check(i);
    return this.lengths[i]!;
  }

  /** A view of datagram i into the shared buffer (not a copy). */
  datagram(i: number): Uint8Array {
    this.#check(i);
    const start = this.offsets[i]!;
    return this.buffer.subarray(start, start + this.lengths[i]!);
  }

  port(i: number): number {
    this.#check(i);
    return this.ports[i]!;
  }

  family(i: number): 4 | 6 {
    this.#check(i);
    return this.families[i] === 4 ? 4 : 6;
  }

  /** Source address text: a dotted quad for IPv4 (never ::ffff:), compressed lowercase IPv6. */
  address(i: number): string {
    return this.endpoint(i).address;
  }

  /** Source of datagram i; the same frozen object for the same source while it stays cached, so it may be kept. */
  endpoint(i: number): UdpEndpoint {
    this.#check(i);
    return this.#names.lookup(this.addresses, this.#words, this.ports, i);
  }

  #check(i: number): void {
    if (!(i >= 0 && i < this.count)) {
      throw new ArgumentError(`datagram index ${i} outside the batch of ${this.count} (used after the callback?)`);
    }
  }
}

/**
 * Destinations for sendBatch, preallocated: `add` records where a datagram lies in the caller's
 * buffer and where it goes; `clear` starts the next batch. The arrays are sendBatch's arguments.
 */
export class UdpSendBatch {
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly addresses: Uint8Array;
  readonly ports: Uint16Array;
  count = 0;
  readonly #destinations: DestinationCache;

  constructor(capacity: number, destinations: DestinationCache) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 65536) {
      throw new ArgumentError(`send batch capacity must be an integer in 1-65536, got ${capacity}`);
    }
    this.offsets = new Uint32Array(capacity);
    this.lengths = new Uint32Array(capacity);
    this.addresses = new Uint8Array(capacity * ADDRESS_BYTES);
    this.ports = new Uint16Array(capacity);
    this.#destinations = destinations;
  }

  get capacity(): number {
    return this.offsets.length;
  }

  /** Appends buffer[offset, +length) to `to`; ArgumentError if full or `to` is not an IP endpoint. */
  add(offset: number, length: number, to: UdpEndpoint): void {
    checkPort(to.port, 'destination port');
    const bytes = this.#destinations.bytes(to.address);
    const i = this.#slot(offset, length);
    this.addresses.set(bytes, i * ADDRESS_BYTES);
    this.ports[i] = to.port;
    this.count = i + 1;
  }

  /** Appends buffer[offset, +length) back to the source of `batch`'s datagram `index` (no text involved). */
  addReply(offset: number, length: number, batch: UdpReadBatch, index: number): void {
    const port = batch.port(index);
    const i = this.#slot(offset, length);
    this.addresses.set(batch.addresses.subarray(index * ADDRESS_BYTES, (index + 1) * ADDRESS_BYTES), i * ADDRESS_BYTES);
    this.ports[i] = port;
    this.count = i + 1;
  }

  /** Destination i as text, for logs and tests. */
  destination(i: number): UdpEndpoint {
    if (!(i >= 0 && i < this.count)) throw new ArgumentError(`index ${i} outside the batch of ${this.count}`);
    return { address: formatAddress(this.addresses, i * ADDRESS_BYTES), port: this.ports[i]! };
  }

  clear(): void {
    this.count = 0;
  }

  #slot(offset: number, length: number): number {
    const i = this.count;
    if (i >= this.offsets.length) throw new ArgumentError(`send batch is full (${this.offsets.length} datagrams)`);
    // Uint32Array would wrap a negative or huge value into some other range; refuse instead.
    if (!Number.isInteger(offset) || offset < 0 || offset > 0xffffffff) {
      throw new ArgumentError(`offset must be a uint32, got ${offset}`);
    }
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) {
      throw new ArgumentError(`length must be a uint32, got ${length}`);
    }
    this.offsets[i] = offset;
    this.lengths[i] = length;
    return i;
  }
}
