import {
  ArgumentError,
  assertU16,
  assertU32,
  assertU64,
  checkIpPrefix,
  DecodeError,
  formatIpPrefix,
  maskIpPrefix,
  MeshguardError,
  parseIpPrefix,
  type IpPrefix,
} from '@meshguard/core';
import { formatEndpoint, type Endpoint } from '../swim/endpoint-codec.js';
import { parseIpEndpointText } from './endpoint-text.js';
import { wgKeyFromHex, wgKeyOrNullFromHex, wgKeyOrNullToHex, wgKeyToHex } from './key-text.js';
import { formatUapiRequest, formatUapiResponse, UAPI_ERRNO } from './uapi-framing.js';

/**
 * The bodies of UAPI `set=1` requests and `get=1` responses (wireguard.com/xplatform), in the
 * dialect wireguard-go speaks and `wg` expects: keys as lowercase hex, device keys before the
 * first `public_key`, each `public_key` opening that peer's keys.
 */

/** A set request's device part. Absent fields are left as they are. */
export interface UapiDeviceUpdate {
  /** null: all-zero hex, which removes the private key. */
  readonly privateKey?: Uint8Array | null;
  readonly listenPort?: number;
  readonly fwmark?: number;
  readonly replacePeers: boolean;
}

/** `remove=true`: whatever else was said about the peer in the request is moot. */
export interface UapiPeerRemoval {
  readonly kind: 'remove';
  readonly publicKey: Uint8Array;
}

/** Creates the peer, or changes it if it exists; absent fields are left as they are. */
export interface UapiPeerUpsert {
  readonly kind: 'upsert';
  readonly publicKey: Uint8Array;
  /** Change the peer only if it exists already. */
  readonly updateOnly: boolean;
  /** null: all-zero hex, which clears the preshared key. */
  readonly presharedKey?: Uint8Array | null;
  readonly endpoint?: Endpoint;
  readonly persistentKeepaliveInterval?: number;
  /** Remove the peer's allowed IPs before adding `allowedIps`. */
  readonly replaceAllowedIps: boolean;
  /** Canonical networks, host bits zeroed as wireguard-go inserts them. */
  readonly allowedIps: readonly IpPrefix[];
}

export type UapiPeerUpdate = UapiPeerRemoval | UapiPeerUpsert;

export interface UapiSetRequest {
  readonly device: UapiDeviceUpdate;
  /** In request order; one key may appear more than once, and each change applies in turn. */
  readonly peers: readonly UapiPeerUpdate[];
}

export interface UapiPeerSnapshot {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | null;
  readonly endpoint: Endpoint | null;
  /** Unix time of the last handshake; 0 and 0 when there has been none. */
  readonly lastHandshakeTimeSec: bigint;
  readonly lastHandshakeTimeNsec: number;
  readonly txBytes: bigint;
  readonly rxBytes: bigint;
  /** Seconds; 0 is off. */
  readonly persistentKeepaliveInterval: number;
  readonly allowedIps: readonly IpPrefix[];
}

/** What a get=1 reports about a device. */
export interface UapiDeviceSnapshot {
  readonly privateKey: Uint8Array | null;
  /** 0 before the device has bound a port; not sent then. */
  readonly listenPort: number;
  /** 0 is no mark; not sent then. */
  readonly fwmark: number;
  readonly peers: readonly UapiPeerSnapshot[];
}

const U32_MAX = 0xffffffff;
const I64_MAX = (1n << 63n) - 1n;
const NSEC_PER_SEC = 1_000_000_000;
const DECIMAL = /^[0-9]{1,20}$/;

interface PeerDraft {
  publicKey: Uint8Array;
  removed: boolean;
  updateOnly: boolean;
  presharedKey?: Uint8Array | null;
  endpoint?: Endpoint;
  persistentKeepaliveInterval?: number;
  replaceAllowedIps: boolean;
  allowedIps: IpPrefix[];
}

/**
 * The `key=value` lines of a set request (from takeUapiRequest). Accepts exactly the keys
 * wireguard-go accepts, with its meaning for each; DecodeError (or InvalidKeyError) otherwise,
 * which a server answers with UAPI_ERRNO.invalid.
 */
export function parseUapiSet(lines: readonly string[]): UapiSetRequest {
  let privateKey: Uint8Array | null | undefined;
  let listenPort: number | undefined;
  let fwmark: number | undefined;
  let replacePeers = false;
  const peers: PeerDraft[] = [];
  lines.forEach((line, i) => {
    const [key, value] = splitLine(line, i + 1);
    const what = `UAPI line ${i + 1}: ${key}`;
    if (key === 'public_key') {
      peers.push({
        publicKey: wgKeyFromHex(value, what),
        removed: false,
        updateOnly: false,
        replaceAllowedIps: false,
        allowedIps: [],
      });
      return;
    }
    const peer = peers[peers.length - 1];
    if (peer === undefined) {
      switch (key) {
        case 'private_key':
          privateKey = wgKeyOrNullFromHex(value, what);
          return;
        case 'listen_port':
          listenPort = parseDecimal(value, 0xffff, what);
          return;
        case 'fwmark':
          fwmark = parseDecimal(value, U32_MAX, what);
          return;
        case 'replace_peers':
          replacePeers = parseTrue(value, what);
          return;
        default:
          throw new DecodeError(`UAPI line ${i + 1}: "${key}" is not a device key`);
      }
    }
    switch (key) {
      case 'remove':
        peer.removed = parseTrue(value, what);
        return;
      case 'update_only':
        peer.updateOnly = parseTrue(value, what);
        return;
      case 'preshared_key':
        peer.presharedKey = wgKeyOrNullFromHex(value, what);
        return;
      case 'endpoint':
        peer.endpoint = parseIpEndpointText(value, what);
        return;
      case 'persistent_keepalive_interval':
        peer.persistentKeepaliveInterval = parseDecimal(value, 0xffff, what);
        return;
      case 'replace_allowed_ips':
        // Replacing drops what earlier lines of this request added, as it does in wireguard-go.
        peer.replaceAllowedIps = parseTrue(value, what);
        peer.allowedIps = [];
        return;
      case 'allowed_ip':
        peer.allowedIps.push(parseAllowedIp(value, what));
        return;
      case 'protocol_version':
        if (value !== '1') throw new DecodeError(`${what}: only protocol version 1 exists, got "${value}"`);
        return;
      default:
        throw new DecodeError(`UAPI line ${i + 1}: "${key}" is not a peer key`);
    }
  });
  const device: UapiDeviceUpdate = {
    ...(privateKey !== undefined && { privateKey }),
    ...(listenPort !== undefined && { listenPort }),
    ...(fwmark !== undefined && { fwmark }),
    replacePeers,
  };
  return { device, peers: peers.map(finishPeer) };
}

/** The whole request, `set=1` to the empty line, as `wg set` would write it. */
export function formatUapiSet(request: UapiSetRequest): string {
  const lines: string[] = [];
  const { device } = request;
  if (device.privateKey !== undefined) lines.push(`private_key=${wgKeyOrNullToHex(device.privateKey)}`);
  if (device.listenPort !== undefined) lines.push(`listen_port=${assertU16(device.listenPort, 'listen_port')}`);
  if (device.fwmark !== undefined) lines.push(`fwmark=${assertU32(device.fwmark, 'fwmark')}`);
  if (device.replacePeers) lines.push('replace_peers=true');
  for (const peer of request.peers) {
    lines.push(`public_key=${wgKeyToHex(peer.publicKey)}`);
    if (peer.kind === 'remove') {
      lines.push('remove=true');
      continue;
    }
    if (peer.updateOnly) lines.push('update_only=true');
    if (peer.presharedKey !== undefined) lines.push(`preshared_key=${wgKeyOrNullToHex(peer.presharedKey)}`);
    if (peer.endpoint !== undefined) lines.push(`endpoint=${formatEndpointChecked(peer.endpoint)}`);
    if (peer.persistentKeepaliveInterval !== undefined) {
      const interval = assertU16(peer.persistentKeepaliveInterval, 'persistent_keepalive_interval');
      lines.push(`persistent_keepalive_interval=${interval}`);
    }
    if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true');
    for (const prefix of peer.allowedIps) lines.push(`allowed_ip=${formatPrefixChecked(prefix)}`);
  }
  return formatUapiRequest({ command: 'set', lines });
}

/**
 * The whole get=1 response, ending `errno=0` and the empty line, with wireguard-go's keys in
 * wireguard-go's order (tx_bytes before rx_bytes). Throws ArgumentError for a snapshot the
 * protocol cannot carry.
 */
export function formatUapiGet(snapshot: UapiDeviceSnapshot): string {
  const lines: string[] = [];
  if (snapshot.privateKey !== null) lines.push(`private_key=${wgKeyToHex(snapshot.privateKey)}`);
  if (assertU16(snapshot.listenPort, 'listen_port') !== 0) lines.push(`listen_port=${snapshot.listenPort}`);
  if (assertU32(snapshot.fwmark, 'fwmark') !== 0) lines.push(`fwmark=${snapshot.fwmark}`);
  for (const peer of snapshot.peers) {
    lines.push(`public_key=${wgKeyToHex(peer.publicKey)}`);
    lines.push(`preshared_key=${wgKeyOrNullToHex(peer.presharedKey)}`);
    lines.push('protocol_version=1');
    if (peer.endpoint !== null) lines.push(`endpoint=${formatEndpointChecked(peer.endpoint)}`);
    if (peer.lastHandshakeTimeSec < 0n || peer.lastHandshakeTimeSec > I64_MAX) {
      throw new ArgumentError('last_handshake_time_sec must be a non-negative 64-bit integer');
    }
    const nsec = peer.lastHandshakeTimeNsec;
    if (!Number.isInteger(nsec) || nsec < 0 || nsec >= NSEC_PER_SEC) {
      throw new ArgumentError(`last_handshake_time_nsec must be 0–999999999, got ${nsec}`);
    }
    lines.push(`last_handshake_time_sec=${peer.lastHandshakeTimeSec}`);
    lines.push(`last_handshake_time_nsec=${nsec}`);
    lines.push(`tx_bytes=${assertU64(peer.txBytes, 'tx_bytes')}`);
    lines.push(`rx_bytes=${assertU64(peer.rxBytes, 'rx_bytes')}`);
    const interval = assertU16(peer.persistentKeepaliveInterval, 'persistent_keepalive_interval');
    lines.push(`persistent_keepalive_interval=${interval}`);
    for (const prefix of peer.allowedIps) lines.push(`allowed_ip=${formatPrefixChecked(prefix)}`);
  }
  return formatUapiResponse({ lines, errno: UAPI_ERRNO.ok });
}

/**
 * The `key=value` lines of a get response (from takeUapiResponse, errno 0). Unknown keys are
 * skipped, as `wg` skips them, so a newer or forked daemon still reads; a known key with a bad
 * value, a repeated key, or a peer key before any public_key is a DecodeError.
 */
export function parseUapiGet(lines: readonly string[]): UapiDeviceSnapshot {
  let privateKey: Uint8Array | null = null;
  let listenPort = 0;
  let fwmark = 0;
  const deviceKeysSeen = new Set<string>();
  const peers: { fields: Map<string, string>; allowedIps: IpPrefix[]; line: number }[] = [];
  lines.forEach((line, i) => {
    const [key, value] = splitLine(line, i + 1);
    const what = `UAPI line ${i + 1}: ${key}`;
    if (key === 'errno') throw new DecodeError(`${what} inside the response body`);
    if (key === 'public_key') {
      peers.push({ fields: new Map([[key, value]]), allowedIps: [], line: i + 1 });
      return;
    }
    const peer = peers[peers.length - 1];
    if (peer === undefined) {
      if (!DEVICE_GET_KEYS.has(key)) {
        if (PEER_GET_KEYS.has(key)) throw new DecodeError(`${what} before any public_key`);
        return;
      }
      if (deviceKeysSeen.has(key)) throw new DecodeError(`${what} given twice`);
      deviceKeysSeen.add(key);
      if (key === 'private_key') privateKey = wgKeyOrNullFromHex(value, what);
      else if (key === 'listen_port') listenPort = parseDecimal(value, 0xffff, what);
      else fwmark = parseDecimal(value, U32_MAX, what);
    } else if (key === 'allowed_ip') {
      peer.allowedIps.push(parseAllowedIp(value, what));
    } else if (PEER_GET_KEYS.has(key)) {
      setOnce(peer.fields, key, value, what);
    } else if (DEVICE_GET_KEYS.has(key)) {
      throw new DecodeError(`${what} after the first public_key`);
    }
  });
  return {
    privateKey,
    listenPort,
    fwmark,
    peers: peers.map(({ fields, allowedIps, line }) => {
      const what = (key: string): string => `UAPI peer at line ${line}: ${key}`;
      const get = (key: string): string | undefined => fields.get(key);
      const version = get('protocol_version');
      if (version !== undefined && version !== '1') {
        throw new DecodeError(`${what('protocol_version')}: unknown version "${version}"`);
      }
      const psk = get('preshared_key');
      const endpoint = get('endpoint');
      const interval = get('persistent_keepalive_interval');
      return {
        publicKey: wgKeyFromHex(get('public_key')!, what('public_key')),
        presharedKey: psk === undefined ? null : wgKeyOrNullFromHex(psk, what('preshared_key')),
        endpoint: endpoint === undefined ? null : parseIpEndpointText(endpoint, what('endpoint')),
        lastHandshakeTimeSec: parseBig(get('last_handshake_time_sec'), I64_MAX, what('last_handshake_time_sec')),
        lastHandshakeTimeNsec: Number(
          parseBig(get('last_handshake_time_nsec'), BigInt(NSEC_PER_SEC - 1), what('last_handshake_time_nsec')),
        ),
        txBytes: parseBig(get('tx_bytes'), (1n << 64n) - 1n, what('tx_bytes')),
        rxBytes: parseBig(get('rx_bytes'), (1n << 64n) - 1n, what('rx_bytes')),
        persistentKeepaliveInterval:
          interval === undefined ? 0 : parseDecimal(interval, 0xffff, what('persistent_keepalive_interval')),
        allowedIps,
      };
    }),
  };
}

const DEVICE_GET_KEYS: ReadonlySet<string> = new Set(['private_key', 'listen_port', 'fwmark']);
const PEER_GET_KEYS: ReadonlySet<string> = new Set([
  'preshared_key',
  'protocol_version',
  'endpoint',
  'last_handshake_time_sec',
  'last_handshake_time_nsec',
  'tx_bytes',
  'rx_bytes',
  'persistent_keepalive_interval',
  'allowed_ip',
]);

function finishPeer(peer: PeerDraft): UapiPeerUpdate {
  if (peer.removed) return { kind: 'remove', publicKey: peer.publicKey };
  return {
    kind: 'upsert',
    publicKey: peer.publicKey,
    updateOnly: peer.updateOnly,
    ...(peer.presharedKey !== undefined && { presharedKey: peer.presharedKey }),
    ...(peer.endpoint !== undefined && { endpoint: peer.endpoint }),
    ...(peer.persistentKeepaliveInterval !== undefined && {
      persistentKeepaliveInterval: peer.persistentKeepaliveInterval,
    }),
    replaceAllowedIps: peer.replaceAllowedIps,
    allowedIps: peer.allowedIps,
  };
}

/** Split at the first `=`, as wireguard-go does: a value may itself contain `=`. */
function splitLine(line: string, lineNumber: number): [string, string] {
  const eq = line.indexOf('=');
  if (eq <= 0) throw new DecodeError(`UAPI line ${lineNumber}: expected key=value`);
  return [line.slice(0, eq), line.slice(eq + 1)];
}

function setOnce(fields: Map<string, string>, key: string, value: string, what: string): void {
  if (fields.has(key)) throw new DecodeError(`${what} given twice`);
  fields.set(key, value);
}

/** wireguard-go accepts only the literal `true` for its flag keys; `false` is an error, not a no-op. */
function parseTrue(value: string, what: string): true {
  if (value !== 'true') throw new DecodeError(`${what}: the only accepted value is "true", got "${value}"`);
  return true;
}

function parseDecimal(value: string, max: number, what: string): number {
  return Number(parseBig(value, BigInt(max), what));
}

function parseBig(value: string | undefined, max: bigint, what: string): bigint {
  if (value === undefined) return 0n;
  const n = DECIMAL.test(value) ? BigInt(value) : -1n;
  if (n < 0n || n > max) throw new DecodeError(`${what}: "${value}" is not an integer 0–${max}`);
  return n;
}

/**
 * A hand-built Endpoint or IpPrefix with a bad address, port or length is an ArgumentError
 * here rather than a line the peer at the other end rejects: endpoints are re-parsed, prefixes
 * checked, and both leave in the canonical form the parsers return.
 */
function formatEndpointChecked(endpoint: Endpoint): string {
  const text = formatEndpoint(endpoint);
  return rethrowAsArgument(() => formatEndpoint(parseIpEndpointText(text, 'endpoint')));
}

function formatPrefixChecked(prefix: IpPrefix): string {
  return formatIpPrefix(maskIpPrefix(checkIpPrefix(prefix, 'allowed_ip')));
}

/** wg and wireguard-go always send the length, and insert the network the prefix lies in. */
function parseAllowedIp(value: string, what: string): IpPrefix {
  return parseIpPrefix(value, { hostBits: 'clear', bareAddress: 'refuse', what, error: 'decode' });
}

function rethrowAsArgument<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MeshguardError) throw new ArgumentError(err.message, { cause: err });
    throw err;
  }
}
