import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { NativeUdpSocket } from './native-udp-socket.js';
import type { UdpSendBatch } from './udp-batch.js';

const DEFAULT_CAPACITY = 128;
const SLOT_BYTES = 2048;

/**
 * Collects the datagrams a burst of work produces (one TUN read batch, one UDP read batch, one
 * timer tick) and hands them to the kernel in one sendmmsg(2). Each datagram is copied in at
 * once, so callers may reuse their buffers; the flush runs as a microtask, i.e. right after the
 * synchronous handler that produced the burst returns.
 */
export class CoalescingSender {
  readonly #socket: NativeUdpSocket;
  readonly #batch: UdpSendBatch;
  readonly #buffer: Uint8Array;
  #used = 0;
  #scheduled = false;
  datagramsDropped = 0;

  constructor(socket: NativeUdpSocket, capacity = DEFAULT_CAPACITY) {
    this.#socket = socket;
    this.#batch = socket.createSendBatch(capacity);
    this.#buffer = new Uint8Array(capacity * SLOT_BYTES);
  }

  send(data: Uint8Array, to: UdpEndpoint): void {
    if (data.length > this.#buffer.length) {
      // Larger than the whole staging buffer (jumbo MTU): send it on its own.
      if (!this.#socket.send(data, to)) this.datagramsDropped++;
      return;
    }
    if (this.#batch.count === this.#batch.capacity || this.#used + data.length > this.#buffer.length) this.flush();
    this.#buffer.set(data, this.#used);
    this.#batch.add(this.#used, data.length, to);
    this.#used += data.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.flush();
      });
    }
  }

  flush(): void {
    this.#scheduled = false;
    const count = this.#batch.count;
    if (count === 0) return;
    const b = this.#batch;
    const sent = this.#socket.closed
      ? 0
      : this.#socket.sendBatch(this.#buffer, b.offsets, b.lengths, b.addresses, b.ports, count);
    this.datagramsDropped += count - sent;
    b.clear();
    this.#used = 0;
  }
}
