import { x25519 } from '@noble/curves/ed25519.js';
import {
  assertValidWireGuardPublicKey,
  bytesEqual,
  formatIpPrefix,
  ipPrefixKey,
  isAllZero,
  MeshguardError,
  parseIpPrefix,
  type IpPrefix,
} from '@meshguard/core';
import { formatQuickEndpoint, parseQuickEndpointText, type QuickEndpoint } from './endpoint-text.js';
import { wgKeyFromBase64, wgKeyToBase64 } from './key-text.js';
import { QuickConfigError } from './quick-config-error.js';

/**
 * The wg-quick(8) file format, as read by `meshguard wg up --config FILE`: the [Interface] and
 * [Peer] keys that `wg setconf` understands, plus wg-quick's Address and MTU. Everything else
 * wg-quick does (DNS, routing tables, hooks) is refused by name rather than ignored, so nobody
 * believes a setting took effect that did not.
 */

/** wg-quick files are hand-written and small; 1 MiB still holds thousands of peers. */
export const MAX_WG_QUICK_CONFIG_BYTES = 1 << 20;
export const MAX_WG_QUICK_PEERS = 4096;
export const MAX_WG_QUICK_ADDRESSES = 256;

/** Linux refuses IPv6 on a link whose MTU is below 1280 (RFC 8200 §5). */
const IPV6_MIN_MTU = 1280;
/** ETH_MIN_MTU: the smallest MTU Linux lets a WireGuard link have. */
const MIN_MTU = 68;

export interface WgQuickInterface {
  readonly privateKey: Uint8Array;
  /** null: not in the file, so the port is chosen at random. */
  readonly listenPort: number | null;
  /** With host bits, as given: these are the interface's own addresses. */
  readonly addresses: readonly IpPrefix[];
  /** null: not in the file. */
  readonly mtu: number | null;
}

export interface WgQuickPeer {
  readonly publicKey: Uint8Array;
  readonly presharedKey: Uint8Array | null;
  readonly endpoint: QuickEndpoint | null;
  /** Canonical networks (host bits zeroed), in file order. */
  readonly allowedIps: readonly IpPrefix[];
  /** Seconds; 0 is off. */
  readonly persistentKeepalive: number;
}

export interface WgQuickConfig {
  readonly interface: WgQuickInterface;
  readonly peers: readonly WgQuickPeer[];
}

type Section = 'Interface' | 'Peer';

const INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'Address', 'MTU'] as const;
const PEER_KEYS = ['PublicKey', 'PresharedKey', 'Endpoint', 'AllowedIPs', 'PersistentKeepalive'] as const;
type InterfaceKey = (typeof INTERFACE_KEYS)[number];
type PeerKey = (typeof PEER_KEYS)[number];

/** wg-quick keys we know and decline, each with what to do instead. */
const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['dns', 'DNS: configure name resolution outside meshguard'],
  ['table', 'Table: routes follow AllowedIPs in the main table'],
  ['preup', 'PreUp: run the command yourself before `meshguard wg up`'],
  ['postup', 'PostUp: run the command yourself after `meshguard wg up`'],
  ['predown', 'PreDown: run the command yourself before `meshguard wg down`'],
  ['postdown', 'PostDown: run the command yourself after `meshguard wg down`'],
  ['saveconfig', 'SaveConfig: meshguard never rewrites the config file'],
  ['fwmark', 'FwMark: meshguard does not mark its packets'],
]);

const byLowerCase = <K extends string>(keys: readonly K[]): ReadonlyMap<string, K> =>
  new Map(keys.map((k) => [k.toLowerCase(), k]));
const INTERFACE_BY_LOWER = byLowerCase(INTERFACE_KEYS);
const PEER_BY_LOWER = byLowerCase(PEER_KEYS);

const DECIMAL = /^[0-9]{1,10}$/;
const EDGE_WHITESPACE = /^[ \t]+|[ \t]+$/g;

/**
 * Parses a wg-quick file. Keys and section names are case-insensitive, `#` starts a comment
 * anywhere on a line, and whitespace around keys, values and list commas is ignored, as in
 * wg-quick. Throws QuickConfigError (a DecodeError) naming the line for anything it does not
 * accept.
 */
export function parseWgQuickConfig(input: string | Uint8Array): WgQuickConfig {
  const text = decodeInput(input);
  const builder = new ConfigBuilder();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    try {
      builder.addLine(lines[i]!, lineNumber);
    } catch (err) {
      throw asLineError(err, lineNumber);
    }
  }
  return builder.finish();
}

/** The inverse of parseWgQuickConfig: parse(format(c)) deep-equals c. */
export function formatWgQuickConfig(config: WgQuickConfig): string {
  const iface = config.interface;
  const out = ['[Interface]', `PrivateKey = ${wgKeyToBase64(iface.privateKey)}`];
  if (iface.listenPort !== null) out.push(`ListenPort = ${iface.listenPort}`);
  if (iface.addresses.length > 0) out.push(`Address = ${iface.addresses.map(formatIpPrefix).join(', ')}`);
  if (iface.mtu !== null) out.push(`MTU = ${iface.mtu}`);
  for (const peer of config.peers) {
    out.push('', '[Peer]', `PublicKey = ${wgKeyToBase64(peer.publicKey)}`);
    if (peer.presharedKey !== null) out.push(`PresharedKey = ${wgKeyToBase64(peer.presharedKey)}`);
    if (peer.endpoint !== null) out.push(`Endpoint = ${formatQuickEndpoint(peer.endpoint)}`);
    if (peer.allowedIps.length > 0) out.push(`AllowedIPs = ${peer.allowedIps.map(formatIpPrefix).join(', ')}`);
    if (peer.persistentKeepalive !== 0) out.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  }
  return `${out.join('\n')}\n`;
}

function decodeInput(input: string | Uint8Array): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > MAX_WG_QUICK_CONFIG_BYTES) {
    throw new QuickConfigError(`config is ${size} bytes, more than the ${MAX_WG_QUICK_CONFIG_BYTES} allowed`, null);
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (err) {
      throw new QuickConfigError('config is not valid UTF-8', null, { cause: err });
    }
  }
  // Windows editors like to prepend a byte order mark; it is not part of "[Interface]".
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/** Typed errors from the value parsers become line errors; anything else is a bug and propagates. */
function asLineError(err: unknown, line: number): unknown {
  if (err instanceof QuickConfigError || !(err instanceof MeshguardError)) return err;
  return new QuickConfigError(err.message, line, { cause: err });
}

/** A value with the line it came from, for "already set at line N" messages. */
interface Sourced<T> {
  readonly value: T;
  readonly line: number;
}

interface InterfaceDraft {
  readonly line: number;
  privateKey?: Sourced<Uint8Array>;
  listenPort?: Sourced<number>;
  mtu?: Sourced<number>;
  readonly addresses: Sourced<IpPrefix>[];
}

interface PeerDraft {
  readonly line: number;
  publicKey?: Sourced<Uint8Array>;
  presharedKey?: Sourced<Uint8Array>;
  endpoint?: Sourced<QuickEndpoint>;
  persistentKeepalive?: Sourced<number>;
  readonly allowedIps: IpPrefix[];
}

class ConfigBuilder {
  private iface: InterfaceDraft | undefined;
  private readonly peers: PeerDraft[] = [];
  private section: Section | undefined;
  /** Canonical AllowedIPs prefix → the line that routed it, across all peers. */
  private readonly routes = new Map<string, number>();
  /** Base64 public key → the line that declared it. */
  private readonly publicKeys = new Map<string, number>();

  addLine(raw: string, line: number): void {
    const unterminated = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (hasControlCharacter(unterminated)) throw new QuickConfigError('control character in line', line);
    const hash = unterminated.indexOf('#');
    const content = trim(hash === -1 ? unterminated : unterminated.slice(0, hash));
    if (content === '') return;
    if (content.startsWith('[')) {
      this.openSection(content, line);
      return;
    }
    const eq = content.indexOf('=');
    // The line is not quoted back: it may be a private key that lost its "PrivateKey =".
    if (eq === -1) throw new QuickConfigError('expected "Key = value" or a [Section]', line);
    const key = trim(content.slice(0, eq));
    const value = trim(content.slice(eq + 1));
    if (key === '') throw new QuickConfigError('missing key before "="', line);
    const unsupported = UNSUPPORTED.get(key.toLowerCase());
    if (unsupported !== undefined) {
      throw new QuickConfigError(`not supported by meshguard wg: ${unsupported}`, line);
    }
    if (this.section === undefined) {
      throw new QuickConfigError(`${quotable(key)} appears before any [Interface] or [Peer] section`, line);
    }
    if (this.section === 'Interface') this.interfaceKey(key, value, line);
    else this.peerKey(key, value, line);
  }

  private openSection(content: string, line: number): void {
    const name = /^\[(interface|peer)\]$/i.exec(content)?.[1]?.toLowerCase();
    if (name === 'interface') {
      if (this.iface !== undefined) {
        throw new QuickConfigError(`second [Interface] section (the first is at line ${this.iface.line})`, line);
      }
      this.iface = { line, addresses: [] };
      this.section = 'Interface';
    } else if (name === 'peer') {
      if (this.peers.length >= MAX_WG_QUICK_PEERS) {
        throw new QuickConfigError(`more than ${MAX_WG_QUICK_PEERS} peers`, line);
      }
      this.peers.push({ line, allowedIps: [] });
      this.section = 'Peer';
    } else {
      throw new QuickConfigError(`unknown section ${quotable(content)}; expected [Interface] or [Peer]`, line);
    }
  }

  private interfaceKey(key: string, value: string, line: number): void {
    const iface = this.iface!;
    const known: InterfaceKey | undefined = INTERFACE_BY_LOWER.get(key.toLowerCase());
    if (known === undefined) throw misplacedOrUnknown(key, 'Interface', line);
    switch (known) {
      case 'PrivateKey': {
        once(iface.privateKey, known, line);
        const privateKey = wgKeyFromBase64(nonEmpty(value, known, line), known);
        if (isAllZero(privateKey)) throw new QuickConfigError('PrivateKey is all zero', line);
        iface.privateKey = { value: privateKey, line };
        return;
      }
      case 'ListenPort':
        once(iface.listenPort, known, line);
        iface.listenPort = { value: parseDecimal(value, 0, 0xffff, known, line), line };
        return;
      case 'MTU':
        once(iface.mtu, known, line);
        iface.mtu = { value: parseDecimal(value, MIN_MTU, 0xffff, known, line), line };
        return;
      case 'Address':
        for (const item of listItems(value, known, line)) {
          const address = parseIpPrefix(item, { what: `Address "${item}"`, error: 'decode' });
          const previous = iface.addresses.find((a) => ipPrefixKey(a.value) === ipPrefixKey(address));
          if (previous !== undefined) {
            throw new QuickConfigError(`Address ${item} is already given at line ${previous.line}`, line);
          }
          if (iface.addresses.length >= MAX_WG_QUICK_ADDRESSES) {
            throw new QuickConfigError(`more than ${MAX_WG_QUICK_ADDRESSES} addresses`, line);
          }
          iface.addresses.push({ value: address, line });
        }
        return;
    }
  }

  private peerKey(key: string, value: string, line: number): void {
    const peer = this.peers[this.peers.length - 1]!;
    const known: PeerKey | undefined = PEER_BY_LOWER.get(key.toLowerCase());
    if (known === undefined) throw misplacedOrUnknown(key, 'Peer', line);
    switch (known) {
      case 'PublicKey': {
        once(peer.publicKey, known, line);
        const text = nonEmpty(value, known, line);
        const publicKey = assertValidWireGuardPublicKey(wgKeyFromBase64(text, known), known);
        const canonical = wgKeyToBase64(publicKey);
        const previous = this.publicKeys.get(canonical);
        if (previous !== undefined) {
          throw new QuickConfigError(`PublicKey ${canonical} is already used by the peer at line ${previous}`, line);
        }
        this.publicKeys.set(canonical, line);
        peer.publicKey = { value: publicKey, line };
        return;
      }
      case 'PresharedKey':
        once(peer.presharedKey, known, line);
        peer.presharedKey = { value: wgKeyFromBase64(nonEmpty(value, known, line), known), line };
        return;
      case 'Endpoint':
        once(peer.endpoint, known, line);
        peer.endpoint = { value: parseQuickEndpointText(nonEmpty(value, known, line), known), line };
        return;
      case 'PersistentKeepalive': {
        once(peer.persistentKeepalive, known, line);
        const off = value.toLowerCase() === 'off';
        peer.persistentKeepalive = { value: off ? 0 : parseDecimal(value, 0, 0xffff, known, line), line };
        return;
      }
      case 'AllowedIPs':
        // An empty AllowedIPs is legal for wg (a peer that routes nothing), so it is here too.
        for (const item of listItems(value, known, line, true)) {
          const prefix = parseIpPrefix(item, { hostBits: 'clear', what: `AllowedIPs "${item}"`, error: 'decode' });
          const key = ipPrefixKey(prefix);
          const previous = this.routes.get(key);
          // wg would silently move the route to the later peer; a config that says two
          // different things about one prefix is refused instead.
          if (previous !== undefined) {
            throw new QuickConfigError(
              `AllowedIPs ${formatIpPrefix(prefix)} is already listed at line ${previous}`,
              line,
            );
          }
          this.routes.set(key, line);
          peer.allowedIps.push(prefix);
        }
        return;
    }
  }

  finish(): WgQuickConfig {
    const iface = this.iface;
    if (iface === undefined) throw new QuickConfigError('no [Interface] section', null);
    if (iface.privateKey === undefined) throw new QuickConfigError('[Interface] has no PrivateKey', iface.line);
    if (iface.mtu !== undefined && iface.mtu.value < IPV6_MIN_MTU) {
      const v6 = iface.addresses.find((a) => a.value.family === 6);
      if (v6 !== undefined) {
        throw new QuickConfigError(
          `MTU ${iface.mtu.value} is below ${IPV6_MIN_MTU}, the least IPv6 allows (IPv6 Address at line ${v6.line})`,
          iface.mtu.line,
        );
      }
    }
    const ownPublicKey = x25519.getPublicKey(iface.privateKey.value);
    const peers = this.peers.map((peer): WgQuickPeer => {
      if (peer.publicKey === undefined) throw new QuickConfigError('[Peer] has no PublicKey', peer.line);
      // wireguard-go quietly ignores such a peer; saying so is kinder than a silent no-op.
      if (bytesEqual(peer.publicKey.value, ownPublicKey)) {
        throw new QuickConfigError("PublicKey is this interface's own key", peer.publicKey.line);
      }
      return {
        publicKey: peer.publicKey.value,
        presharedKey: peer.presharedKey?.value ?? null,
        endpoint: peer.endpoint?.value ?? null,
        allowedIps: peer.allowedIps,
        persistentKeepalive: peer.persistentKeepalive?.value ?? 0,
      };
    });
    return {
      interface: {
        privateKey: iface.privateKey.value,
        listenPort: iface.listenPort?.value ?? null,
        addresses: iface.addresses.map((a) => a.value),
        mtu: iface.mtu?.value ?? null,
      },
      peers,
    };
  }
}

/** Tab is whitespace; every other C0 control, and DEL, has no business in a config file. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

function trim(text: string): string {
  return text.replace(EDGE_WHITESPACE, '');
}

/** wg keeps the last of repeated keys; a file that sets one twice is more likely a mistake. */
function once(previous: Sourced<unknown> | undefined, key: string, line: number): void {
  if (previous !== undefined) throw new QuickConfigError(`${key} is already set at line ${previous.line}`, line);
}

function nonEmpty(value: string, key: string, line: number): string {
  if (value === '') throw new QuickConfigError(`${key} has no value`, line);
  return value;
}

function listItems(value: string, key: string, line: number, allowEmpty = false): string[] {
  if (value === '') {
    if (allowEmpty) return [];
    throw new QuickConfigError(`${key} has no value`, line);
  }
  const items = value.split(',').map(trim);
  if (items.includes('')) throw new QuickConfigError(`${key} has an empty entry in "${value}"`, line);
  return items;
}

function parseDecimal(value: string, min: number, max: number, key: string, line: number): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new QuickConfigError(`${key} "${value}" is not an integer ${min}–${max}`, line);
  return n;
}

function misplacedOrUnknown(key: string, section: Section, line: number): QuickConfigError {
  const lower = key.toLowerCase();
  const elsewhere = section === 'Interface' ? PEER_BY_LOWER.get(lower) : INTERFACE_BY_LOWER.get(lower);
  if (elsewhere !== undefined) {
    const other = section === 'Interface' ? 'Peer' : 'Interface';
    return new QuickConfigError(`${elsewhere} belongs in [${other}], not [${section}]`, line);
  }
  return new QuickConfigError(`unknown key ${quotable(key)} in [${section}]`, line);
}

/**
 * A key or section name as it may appear in an error message. Anything longer or stranger than
 * a name is left out, since "PrivateKey: <key>" (a colon for the equals sign) would otherwise
 * print most of a private key to the terminal and the logs.
 */
function quotable(text: string): string {
  return /^\[?[A-Za-z][A-Za-z0-9_-]{0,31}\]?$/.test(text) ? `"${text}"` : '(not shown: it does not look like a name)';
}
