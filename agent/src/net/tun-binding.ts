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
}

// dist/src/net/ → agent/native/build/, where `npm run build:native` puts the addon.
const ADDON_PATH = fileURLToPath(new URL('../../../native/build/meshguard_tun.node', import.meta.url));

let binding: NativeTunBinding | null = null;

/** Loads the addon on first use, so importing this module works where it is not built (non-Linux, lint). */
export function tunBinding(): NativeTunBinding {
  if (binding !== null) return binding;
  if (!existsSync(ADDON_PATH)) {
    throw new TunError(`TUN addon not built (${ADDON_PATH}): run \`npm run build:native\``);
  }
  try {
    const loaded: unknown = createRequire(import.meta.url)(ADDON_PATH);
    binding = loaded as NativeTunBinding;
  } catch (err) {
    throw new TunError(`cannot load the TUN addon ${ADDON_PATH}: ${String(err)}`, null, { cause: err });
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
