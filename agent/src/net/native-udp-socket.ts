import { constants as osConstants } from 'node:os';
import { ArgumentError, parseIPv4, parseIPv6 } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { tunBinding, type NativeTunBinding, type NativeUdpHandle, type NativeUdpOpened } from './tun-binding.js';
import { checkPort, DestinationCache } from './udp-address.js';
import { UdpReadBatch, UdpSendBatch } from './udp-batch.js';
import { asUdpError, UdpError } from './udp-error.js';
import type { DatagramHandler } from './udp-socket.js';

export interface NativeUdpOptions {
  /** Most datagrams received per callback (one recvmmsg). Default 64. */
  readonly batchSize?: number;
  /** Bytes per receive slot; a datagram longer than slotSize - headroom is dropped (counted). Default 2048. */
  readonly slotSize?: number;
  /** Free bytes kept before each received datagram, for in-place work. Default 0. */
  readonly headroom?: number;
  /** Batches delivered per readiness event before the loop gets a turn again. Default 8. */
  readonly maxBatchesPerWake?: number;
  /** Requested SO_RCVBUF (SO_RCVBUFFORCE when permitted); 0 keeps the kernel default. Default 4 MiB. */
  readonly receiveBufferSize?: number;
  /** Requested SO_SNDBUF (SO_SNDBUFFORCE when permitted); 0 keeps the kernel default. Default 4 MiB. */
  readonly sendBufferSize?: number;
}

export interface OnDatagramOptions {
  /**
   * true (default): each datagram is a fresh copy the handler may keep, as node:dgram gives.
   * false: a view into the shared receive buffer, valid only until the handler returns.
   */
  readonly copy?: boolean;
}

export interface UdpCounters {
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  /** Datagrams the kernel had no room for (EAGAIN, ENOBUFS); dropped, never retried. */
  readonly sendDrops: number;
  /** Datagrams refused for their destination (no route, port 0, too large for the path, ...). */
  readonly sendErrors: number;
  /** Received datagrams longer than a slot, dropped rather than delivered cut short. */
  readonly receiveTruncated: number;
  /** Transient socket errors skipped while receiving. */
  readonly receiveErrors: number;
  /** Handler batches delivered; datagramsReceived / receiveBatches is the mean batch size. */
  readonly receiveBatches: number;
  /** errno name of the last send drop or refusal, e.g. 'ENETUNREACH'; null if there was none. */
  readonly lastSendError: string | null;
}

export type UdpBatchHandler = (batch: UdpReadBatch) => void;
export type UdpErrorHandler = (error: UdpError) => void;

/**
 * What the runtime needs from its UDP socket. UdpSocket (node:dgram) and NativeUdpSocket both
 * have this shape, so either can be bound and handed to it.
 */
export interface DatagramTransport {
  readonly port: number;
  onDatagram(handler: DatagramHandler): void;
  send(data: Uint8Array, to: UdpEndpoint): void;
  close(): void;
}

const DEFAULT_BATCH_SIZE = 64;
const DEFAULT_SLOT_SIZE = 2048;
const DEFAULT_MAX_BATCHES_PER_WAKE = 8;
const DEFAULT_SOCKET_BUFFER = 4 << 20;
const STAT_COUNT = 10;

/** errno number → name; the first name wins where two share a number (EAGAIN before EWOULDBLOCK). */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno))
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ArgumentError(`${name} must be an integer in ${min}-${max}, got ${value}`);
  }
}

function bindAddress(address: string | undefined): Uint8Array | null {
  if (address === undefined) return null;
  // 4 bytes bind an IPv4-only socket, 16 an IPv6 one (dual-stack, so even ::ffff:a.b.c.d binds).
  const bytes = parseIPv4(address) ?? parseIPv6(address);
  if (bytes === null) {
    throw new ArgumentError(`bind address must be an IPv4 or IPv6 literal, got ${JSON.stringify(address)}`);
  }
  return bytes;
}

/**
 * A UDP socket in the native addon with batched I/O: datagrams arrive through recvmmsg(2) into
 * one preallocated buffer, one handler call per batch (see UdpReadBatch), and leave through
 * sendmmsg(2), one native call per batch. Bound dual-stack by default, so IPv4 peers appear as
 * plain dotted quads. Sends copy synchronously and never queue: what the kernel cannot take is
 * dropped and counted. Linux only (the addon is).
 *
 * Receiving starts with the first onDatagrams/onDatagram; until then datagrams wait in the
 * kernel's buffer. While receiving, the socket keeps the event loop alive and cannot be
 * garbage-collected: end with stopReading() or close().
 */
export class NativeUdpSocket implements DatagramTransport {
  /** The bound port (the kernel's choice when bound to port 0). */
  readonly port: number;
  /** 6 for an IPv6 socket (dual-stack unless bound to an IPv6 address), 4 for an IPv4 one. */
  readonly family: 4 | 6;
  /** SO_RCVBUF/SO_SNDBUF as the kernel reports them (it doubles what was asked, for bookkeeping). */
  readonly receiveBufferSize: number;
  readonly sendBufferSize: number;
  readonly #native: NativeTunBinding;
  readonly #handle: NativeUdpHandle;
  readonly #batch: UdpReadBatch;
  readonly #maxBatches: number;
  readonly #destinations = new DestinationCache();
  readonly #stats = new Float64Array(STAT_COUNT);
  #closed = false;
  /** Bumped by every start, stop and close, so a per-datagram loop notices one made by its handler. */
  #generation = 0;

  private constructor(native: NativeTunBinding, opened: NativeUdpOpened, batch: UdpReadBatch, maxBatches: number) {
    this.#native = native;
    this.#handle = opened.handle;
    this.port = opened.port;
    this.family = opened.family;
    this.receiveBufferSize = opened.receiveBufferSize;
    this.sendBufferSize = opened.sendBufferSize;
    this.#batch = batch;
    this.#maxBatches = maxBatches;
  }

  /** bindSync with UdpSocket.bind's asynchronous shape, so callers can switch between the two. */
  static bind(port: number, address?: string, options: NativeUdpOptions = {}): Promise<NativeUdpSocket> {
    // A throw inside the executor rejects the promise, as a failed UdpSocket.bind does.
    return new Promise((resolve) => {
      resolve(NativeUdpSocket.bindSync(port, address, options));
    });
  }

  /**
   * Binds `port` (0: the kernel picks one) on `address` (default: every address, IPv4 and IPv6).
   * UdpError with errno EADDRINUSE, EACCES, EADDRNOTAVAIL... if the kernel refuses;
   * ArgumentError for a bad port, address or option.
   */
  static bindSync(port: number, address?: string, options: NativeUdpOptions = {}): NativeUdpSocket {
    checkInteger('port', port, 0, 0xffff);
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const slotSize = options.slotSize ?? DEFAULT_SLOT_SIZE;
    const headroom = options.headroom ?? 0;
    const maxBatches = options.maxBatchesPerWake ?? DEFAULT_MAX_BATCHES_PER_WAKE;
    const receiveBufferSize = options.receiveBufferSize ?? DEFAULT_SOCKET_BUFFER;
    const sendBufferSize = options.sendBufferSize ?? DEFAULT_SOCKET_BUFFER;
    checkInteger('batchSize', batchSize, 1, 1024);
    checkInteger('headroom', headroom, 0, 1024);
    checkInteger('slotSize', slotSize, headroom + 1, 65536 + headroom);
    checkInteger('maxBatchesPerWake', maxBatches, 1, 1024);
    checkInteger('receiveBufferSize', receiveBufferSize, 0, 1 << 30);
    checkInteger('sendBufferSize', sendBufferSize, 0, 1 << 30);
    const local = bindAddress(address);
    const native = tunBinding();
    let opened: NativeUdpOpened;
    try {
      opened = native.udpOpen(local, port, receiveBufferSize, sendBufferSize);
    } catch (err) {
      const host = address === undefined ? '*' : address.includes(':') ? `[${address}]` : address;
      throw asUdpError(err, `cannot bind UDP ${host}:${port}`);
    }
    return new NativeUdpSocket(native, opened, new UdpReadBatch(batchSize, slotSize, headroom), maxBatches);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Largest datagram a receive slot holds; longer ones are dropped and counted in receiveTruncated. */
  get maxDatagramSize(): number {
    return this.#batch.slotSize - this.#batch.headroom;
  }

  /** UdpSocket's counter: datagrams not sent, for whatever reason. */
  get sendErrors(): number {
    const c = this.counters();
    return c.sendDrops + c.sendErrors;
  }

  /**
   * Starts receiving: `handler` gets every batch (see UdpReadBatch for how long its data lives).
   * Replaces an earlier handler. If receiving fails it stops and `onError` gets the error;
   * without `onError` it is thrown as uncaught, as is an exception from the handler.
   */
  onDatagrams(handler: UdpBatchHandler, onError?: UdpErrorHandler): void {
    this.#assertOpen();
    const batch = this.#batch;
    const callback = (count: number, failure: Error | undefined): void => {
      // Reported on the next tick, right after this batch, so a throwing handler cannot swallow it.
      if (failure !== undefined) process.nextTick(() => this.#readFailed(failure, onError));
      if (count === 0) return;
      batch.count = count;
      try {
        handler(batch);
      } finally {
        batch.count = 0;
      }
    };
    this.#generation++;
    try {
      this.#native.udpStartReading(
        this.#handle,
        batch.buffer,
        batch.slotSize,
        batch.headroom,
        batch.lengths,
        batch.addresses,
        batch.ports,
        batch.families,
        batch.lengths.length,
        this.#maxBatches,
        callback,
      );
    } catch (err) {
      throw asUdpError(err, `UDP port ${this.port}: cannot start receiving`);
    }
  }

  /**
   * UdpSocket's per-datagram interface, built on onDatagrams. `from` is a cached frozen object
   * (keeping it is fine). By default `data` is a copy; `{ copy: false }` passes a view that is
   * valid only during the call. Stopping or closing from inside the handler ends the batch too:
   * the batch's remaining datagrams, already read from the kernel, are dropped.
   */
  onDatagram(handler: DatagramHandler, options: OnDatagramOptions = {}): void {
    const copy = options.copy ?? true;
    let generation = -1;
    this.onDatagrams((batch) => {
      const { buffer, offsets, lengths } = batch;
      for (let i = 0; i < batch.count && this.#generation === generation; i++) {
        const start = offsets[i]!;
        const end = start + lengths[i]!;
        handler(copy ? buffer.slice(start, end) : buffer.subarray(start, end), batch.endpoint(i));
      }
    });
    generation = this.#generation;
  }

  /** Stops receiving; no handler call happens after this returns (also safe inside the handler). */
  stopReading(): void {
    this.#generation++;
    if (!this.#closed) this.#native.udpStopReading(this.#handle);
  }

  /**
   * Sends one datagram, copied before this returns. false if it was dropped (no buffer space) or
   * refused for its destination (counted in sendDrops/sendErrors, like a lost datagram);
   * ArgumentError for something that is not an IP endpoint.
   */
  send(data: Uint8Array, to: UdpEndpoint): boolean {
    this.#assertOpen();
    checkPort(to.port, 'destination port');
    const address = this.#destinations.bytes(to.address);
    try {
      return this.#native.udpSend(this.#handle, data, address, to.port);
    } catch (err) {
      throw asUdpError(err, `UDP port ${this.port}: send`);
    }
  }

  /**
   * Sends `count` datagrams in one native call: datagram i is buffer[offsets[i], +lengths[i]) to
   * addresses[16i, +16) (IPv4 as ::ffff:a.b.c.d; see UdpSendBatch) port ports[i]. Everything is
   * copied before this returns, so the caller may reuse its arrays at once. Returns how many the
   * kernel took; the rest were dropped or refused (counted). Any index or range out of bounds
   * refuses the whole batch with an ArgumentError before anything is sent.
   */
  sendBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addresses: Uint8Array,
    ports: Uint16Array,
    count: number,
  ): number {
    this.#assertOpen();
    // The addon would read 1.5 as 1; a count that is not a whole number is a caller's bug.
    if (!Number.isInteger(count) || count < 0) throw new ArgumentError(`count must be a uint32, got ${count}`);
    try {
      return this.#native.udpSendBatch(this.#handle, buffer, offsets, lengths, addresses, ports, count);
    } catch (err) {
      throw asUdpError(err, `UDP port ${this.port}: sendBatch`);
    }
  }

  /** A preallocated destination list for sendBatch that shares this socket's address cache. */
  createSendBatch(capacity = DEFAULT_BATCH_SIZE): UdpSendBatch {
    return new UdpSendBatch(capacity, this.#destinations);
  }

  /** Counters since bind; they keep their last values after close. */
  counters(): UdpCounters {
    this.#native.udpStats(this.#handle, this.#stats);
    const s = this.#stats;
    const lastErrno = s[9]!;
    return {
      datagramsReceived: s[0]!,
      bytesReceived: s[1]!,
      datagramsSent: s[2]!,
      bytesSent: s[3]!,
      sendDrops: s[4]!,
      sendErrors: s[5]!,
      receiveTruncated: s[6]!,
      receiveErrors: s[7]!,
      receiveBatches: s[8]!,
      lastSendError: lastErrno === 0 ? null : (ERRNO_NAMES.get(lastErrno) ?? `errno ${lastErrno}`),
    };
  }

  /** Stops receiving and closes the socket, freeing the port. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    this.#native.udpClose(this.#handle);
  }

  #readFailed(failure: Error, onError: UdpErrorHandler | undefined): void {
    const error = asUdpError(failure, `UDP port ${this.port}`);
    if (onError === undefined || !(error instanceof UdpError)) throw error;
    onError(error);
  }

  #assertOpen(): void {
    if (this.#closed) throw new UdpError(`UDP socket on port ${this.port} is closed`, 'EBADF');
  }
}
