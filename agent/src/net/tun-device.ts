import { ArgumentError, parseIpPrefix } from '@meshguard/core';
import { validateInterfaceName } from './interface-name.js';
import { asTunError, tunBinding, type NativeTunBinding, type NativeTunHandle } from './tun-binding.js';
import { TunError } from './tun-error.js';
import { TunReadBatch } from './tun-read-batch.js';

export interface TunOpenOptions {
  /** Most packets read per callback. Default 64. */
  readonly batchSize?: number;
  /** Bytes per packet slot in the read buffer; must hold headroom + MTU. Default 2048. */
  readonly slotSize?: number;
  /** Free bytes kept before each read packet (16 fits a WireGuard data header for in-place sealing). Default 0. */
  readonly headroom?: number;
}

export interface TunConfig {
  readonly mtu?: number;
  /** Interface addresses with prefix length: `10.99.1.2/16`, `fd99:6d67::1/64`. */
  readonly addresses?: readonly string[];
  /** Network prefixes routed through the device (host bits must be zero): `10.98.0.0/16`. */
  readonly routes?: readonly string[];
  /** Bring the link up (true) or down (false); unset leaves it as it is. Routes need it up. */
  readonly up?: boolean;
}

export interface TunCounters {
  readonly packetsRead: number;
  readonly bytesRead: number;
  readonly packetsWritten: number;
  readonly bytesWritten: number;
  /** Packets the kernel did not take (full queue, link down, not an IP packet); never retried. */
  readonly writeDrops: number;
}

export type TunPacketHandler = (batch: TunReadBatch) => void;
export type TunErrorHandler = (error: TunError) => void;

const DEFAULT_BATCH_SIZE = 64;
const DEFAULT_SLOT_SIZE = 2048;
const MIN_MTU = 68;
const MAX_MTU = 65535;

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ArgumentError(`${name} must be an integer in ${min}-${max}, got ${value}`);
  }
}

/**
 * A layer-3 TUN interface (IFF_TUN | IFF_NO_PI: one IP packet per read or write), created when
 * opened and removed by the kernel when closed. Reads arrive in batches on the event loop, one
 * JS call per batch; writes are one native call per batch. Linux only; needs CAP_NET_ADMIN.
 */
export class TunDevice {
  /** The kernel's name for the interface (a `%d` template is resolved). */
  readonly name: string;
  readonly fd: number;
  readonly #native: NativeTunBinding;
  readonly #handle: NativeTunHandle;
  readonly #batch: TunReadBatch;
  readonly #stats = new Float64Array(5);
  #closed = false;

  private constructor(native: NativeTunBinding, opened: ReturnType<NativeTunBinding['open']>, batch: TunReadBatch) {
    this.#native = native;
    this.#handle = opened.handle;
    this.name = opened.name;
    this.fd = opened.fd;
    this.#batch = batch;
  }

  static open(name: string, options: TunOpenOptions = {}): TunDevice {
    validateInterfaceName(name);
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const slotSize = options.slotSize ?? DEFAULT_SLOT_SIZE;
    const headroom = options.headroom ?? 0;
    checkInteger('batchSize', batchSize, 1, 4096);
    checkInteger('headroom', headroom, 0, 1024);
    checkInteger('slotSize', slotSize, headroom + MIN_MTU, 65536 + headroom);
    const native = tunBinding();
    let opened;
    try {
      opened = native.open(name);
    } catch (err) {
      throw asTunError(err, `cannot open TUN device ${name}`);
    }
    return new TunDevice(native, opened, new TunReadBatch(batchSize, slotSize, headroom));
  }

  /** Removes an interface by name, e.g. one left behind persistent by another tool. */
  static deleteLink(name: string): void {
    validateInterfaceName(name);
    try {
      tunBinding().deleteLink(name);
    } catch (err) {
      throw asTunError(err, `cannot delete interface ${name}`);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Largest packet a read slot holds; the MTU must not exceed it or reads would truncate. */
  get maxPacketSize(): number {
    return this.#batch.slotSize - this.#batch.headroom;
  }

  /**
   * Applies MTU, then addresses, then link state, then routes: IPv6 addresses need an MTU of at
   * least 1280 already in place, and the kernel refuses routes through a link that is down.
   * Everything is parsed before anything is applied. Adding what is already there is not an error.
   */
  configure(config: TunConfig): void {
    this.#assertOpen();
    if (config.mtu !== undefined) checkInteger('mtu', config.mtu, MIN_MTU, Math.min(MAX_MTU, this.maxPacketSize));
    const addresses = (config.addresses ?? []).map((text) => ({
      text,
      prefix: parseIpPrefix(text, { what: 'address' }),
    }));
    const routes = (config.routes ?? []).map((text) => ({
      text,
      prefix: parseIpPrefix(text, { hostBits: 'refuse', what: 'route' }),
    }));
    const native = this.#native;
    const step = (what: string, apply: () => void): void => {
      try {
        apply();
      } catch (err) {
        throw asTunError(err, `${this.name}: ${what}`);
      }
    };
    const { mtu, up } = config;
    if (mtu !== undefined) step(`set MTU ${mtu}`, () => native.setMtu(this.name, mtu));
    for (const { text, prefix } of addresses) {
      step(`add address ${text}`, () => native.addAddress(this.name, prefix.address, prefix.prefixLength));
    }
    if (up !== undefined) step(up ? 'set link up' : 'set link down', () => native.setUp(this.name, up));
    for (const { text, prefix } of routes) {
      step(`add route ${text}`, () => native.addRoute(this.name, prefix.address, prefix.prefixLength));
    }
  }

  /**
   * Starts reading: `handler` gets every batch (see TunReadBatch for how long its data lives).
   * Replaces an earlier handler. If reading fails (e.g. the interface was deleted) it stops and
   * `onError` gets the error; without `onError` the error is thrown as uncaught.
   * A handler that throws is an uncaught exception too. While reading, the device keeps the
   * event loop alive and cannot be garbage-collected: end with stopReading() or close().
   */
  onPackets(handler: TunPacketHandler, onError?: TunErrorHandler): void {
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
    try {
      this.#native.startReading(
        this.#handle,
        batch.buffer,
        batch.slotSize,
        batch.headroom,
        batch.lengths,
        batch.lengths.length,
        callback,
      );
    } catch (err) {
      throw asTunError(err, `${this.name}: cannot start reading`);
    }
  }

  /** Stops reading; no handler call happens after this returns (also safe inside the handler). */
  stopReading(): void {
    if (!this.#closed) this.#native.stopReading(this.#handle);
  }

  /** Writes one IP packet; false if the kernel dropped it (counted in writeDrops). */
  write(packet: Uint8Array): boolean {
    this.#assertOpen();
    try {
      return this.#native.write(this.#handle, packet);
    } catch (err) {
      throw asTunError(err, `${this.name}: write`);
    }
  }

  /**
   * Writes `count` packets in one native call: packet i is buffer[offsets[i], offsets[i] + lengths[i]).
   * Returns how many the kernel took; the rest were dropped (counted in writeDrops).
   * A range outside `buffer` refuses the whole batch before anything is written.
   */
  writeBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    this.#assertOpen();
    try {
      return this.#native.writeBatch(this.#handle, buffer, offsets, lengths, count);
    } catch (err) {
      if (err instanceof TypeError) throw new ArgumentError(`${this.name}: writeBatch: ${err.message}`);
      throw asTunError(err, `${this.name}: writeBatch`);
    }
  }

  /** Counters since open; they keep their last values after close. */
  counters(): TunCounters {
    this.#native.stats(this.#handle, this.#stats);
    const s = this.#stats;
    return { packetsRead: s[0]!, bytesRead: s[1]!, packetsWritten: s[2]!, bytesWritten: s[3]!, writeDrops: s[4]! };
  }

  /** Stops reading and closes the fd, which removes the interface with its addresses and routes. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close(this.#handle);
  }

  #readFailed(failure: Error, onError: TunErrorHandler | undefined): void {
    const error = asTunError(failure, this.name);
    if (onError === undefined || !(error instanceof TunError)) throw error;
    onError(error);
  }

  #assertOpen(): void {
    if (this.#closed) throw new TunError(`TUN device ${this.name} is closed`, 'EBADF');
  }
}
