import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TunError } from './tun-error.js';

/** The native device handle: opaque to JS, checked by the addon on every call. */
export interface NativeTunHandle {
  readonly __nativeTunHandle: never;
}

/** Called once per read batch; an `error` (with an errno `code`) means reading failed and has stopped. */
export type NativeReadCallback = (count: number, error: Error | undefined) => void;

/** A native UDP socket handle (agent/native/src/udp_socket.c): opaque to JS, checked on every call. */
export interface NativeUdpHandle {
  readonly __nativeUdpHandle: never;
}

/** What udpOpen reports: the bound port, the socket's family (6 is dual-stack) and granted buffer sizes. */
export interface NativeUdpOpened {
  readonly handle: NativeUdpHandle;
  readonly port: number;
  readonly family: 4 | 6;
  readonly receiveBufferSize: number;
  readonly sendBufferSize: number;
}

/** The addon's exports (agent/native/src/addon.c). Names are kernel interface names. */
export interface NativeTunBinding {
  open(name: string): { fd: number; name: string; handle: NativeTunHandle };
  close(handle: NativeTunHandle): void;
  /** Writes packetsRead, bytesRead, packetsWritten, bytesWritten, writeDrops into `out`. */
  stats(handle: NativeTunHandle, out: Float64Array): void;
  startReading(
    handle: NativeTunHandle,
    buffer: Uint8Array,
    slotSize: number,
    headroom: number,
    lengths: Uint32Array,
    batch: number,
    callback: NativeReadCallback,
  ): void;
  stopReading(handle: NativeTunHandle): void;
  write(handle: NativeTunHandle, packet: Uint8Array): boolean;
  writeBatch(
    handle: NativeTunHandle,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number;
  setMtu(name: string, mtu: number): void;
  setUp(name: string, up: boolean): void;
  addAddress(name: string, address: Uint8Array, prefixLength: number): void;
  addRoute(name: string, destination: Uint8Array, prefixLength: number): void;
  deleteLink(name: string): void;
  // ChaCha20-Poly1305 (agent/native/src/aead.c), wrapped by src/wireguard/aead.ts. `nonce` is a
  // WireGuard counter (an integer < 2^53: nonce = 4 zero bytes ‖ LE64) or an explicit 12-byte
  // nonce. Bad types throw TypeError, bad ranges RangeError, before any byte is touched.
  /** Seals src[srcOffset, +srcLength) as ciphertext ‖ tag at dst[dstOffset]; returns srcLength + 16. */
  aeadSeal(
    key: Uint8Array,
    nonce: number | Uint8Array,
    src: Uint8Array,
    srcOffset: number,
    srcLength: number,
    dst: Uint8Array,
    dstOffset: number,
    ad: Uint8Array | null,
  ): number;
  /** Opens ciphertext ‖ tag into dst[dstOffset]; returns srcLength - 16, or -1 (output zeroed) if forged. */
  aeadOpen(
    key: Uint8Array,
    nonce: number | Uint8Array,
    src: Uint8Array,
    srcOffset: number,
    srcLength: number,
    dst: Uint8Array,
    dstOffset: number,
    ad: Uint8Array | null,
  ): number;
  /** aeadSeal (no AD) of packets 0..count-1 in order, packet i under counters[i]; returns count. */
  aeadSealBatch(
    key: Uint8Array,
    counters: Float64Array,
    src: Uint8Array,
    srcOffsets: Uint32Array,
    srcLengths: Uint32Array,
    dst: Uint8Array,
    dstOffsets: Uint32Array,
    count: number,
  ): number;
  /** aeadOpen (no AD) of packets 0..count-1; results[i] = its return value; returns how many opened. */
  aeadOpenBatch(
    key: Uint8Array,
    counters: Float64Array,
    src: Uint8Array,
    srcOffsets: Uint32Array,
    srcLengths: Uint32Array,
    dst: Uint8Array,
    dstOffsets: Uint32Array,
    results: Int32Array,
    count: number,
  ): number;
  // Batched UDP (agent/native/src/udp*.c), wrapped by native-udp-socket.ts. Addresses are 16 bytes
  // (IPv4 as ::ffff:a.b.c.d), ports host order. Bad types throw TypeError, bad ranges RangeError,
  // kernel failures an Error with an errno `code` (EADDRINUSE, ...).
  /** Binds `address` (4 or 16 bytes; null = dual-stack wildcard); buffer sizes 0 keep the kernel's. */
  udpOpen(address: Uint8Array | null, port: number, receiveBufferSize: number, sendBufferSize: number): NativeUdpOpened;
  udpClose(handle: NativeUdpHandle): void;
  /**
   * Writes datagramsReceived, bytesReceived, datagramsSent, bytesSent, sendDrops, sendErrors,
   * receiveTruncated, receiveErrors, receiveCalls, lastSendErrno into `out` (length >= 10).
   */
  udpStats(handle: NativeUdpHandle, out: Float64Array): void;
  /** Datagram i → buffer[i*slotSize + headroom], lengths[i], addresses[16i, +16), ports[i], families[i]. */
  udpStartReading(
    handle: NativeUdpHandle,
    buffer: Uint8Array,
    slotSize: number,
    headroom: number,
    lengths: Uint32Array,
    addresses: Uint8Array,
    ports: Uint16Array,
    families: Uint8Array,
    batch: number,
    maxBatches: number,
    callback: NativeReadCallback,
  ): void;
  udpStopReading(handle: NativeUdpHandle): void;
  /** One datagram; false if dropped (no buffer space) or refused for its destination. */
  udpSend(handle: NativeUdpHandle, data: Uint8Array, address: Uint8Array, port: number): boolean;
  /** Datagram i is buffer[offsets[i], +lengths[i]) to addresses[16i, +16):ports[i]; returns how many were sent. */
  udpSendBatch(
    handle: NativeUdpHandle,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addresses: Uint8Array,
    ports: Uint16Array,
    count: number,
  ): number;
}

// dist/src/net/ → agent/native/build/, where `npm run build:native` puts the addon.
export const TUN_ADDON_PATH = fileURLToPath(new URL('../../../native/build/meshguard_tun.node', import.meta.url));

let binding: NativeTunBinding | null = null;

/** Loads the addon on first use, so importing this module works where it is not built (non-Linux, lint). */
export function tunBinding(): NativeTunBinding {
  if (binding !== null) return binding;
  if (!existsSync(TUN_ADDON_PATH)) {
    throw new TunError(`TUN addon not built (${TUN_ADDON_PATH}): run \`npm run build:native\``);
  }
  try {
    const loaded: unknown = createRequire(import.meta.url)(TUN_ADDON_PATH);
    binding = loaded as NativeTunBinding;
  } catch (err) {
    throw new TunError(`cannot load the TUN addon ${TUN_ADDON_PATH}: ${String(err)}`, null, { cause: err });
  }
  return binding;
}

/** The addon throws plain Errors with an errno `code`; callers get a TunError instead. */
export function asTunError(err: unknown, context: string): unknown {
  // Anything else (a TypeError for a misused argument) is a bug in the caller and stays as it is.
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string' || !err.code.startsWith('E')) {
    return err;
  }
  return new TunError(`${context}: ${err.message}`, err.code, { cause: err });
}
