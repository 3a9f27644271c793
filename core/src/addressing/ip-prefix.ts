import { ArgumentError, DecodeError } from '../errors.js';
import { parseIPv4, parseIPv6 } from './ip-text.js';
import { formatIPv4, formatIPv6 } from './mesh-address.js';

export type IpFamily = 4 | 6;

/** An address with its prefix length: `10.99.1.2/16`, `fd99:6d67::/64`. */
export interface IpPrefix {
  readonly family: IpFamily;
  /** 4 or 16 bytes, network order. */
  readonly address: Uint8Array;
  readonly prefixLength: number;
}

export interface IpPrefixParseOptions {
  /**
   * Bits past the prefix length. `keep` (default): an interface address, where 10.0.0.1/24 is
   * host 10.0.0.1 on a /24. `clear`: zero them, as the kernel and wireguard-go do when they
   * insert an allowed IP, so 10.0.0.1/24 and 10.0.0.0/24 come out equal. `refuse`: a route,
   * where host bits are almost certainly a typo for another network.
   */
  readonly hostBits?: 'keep' | 'clear' | 'refuse';
  /** `host` (default): a bare address is a /32 or /128, as `ip`, `wg` and wg-quick read it. */
  readonly bareAddress?: 'host' | 'refuse';
  /** Starts every error message, e.g. `AllowedIPs "10.0.0.0/33"`. Default `IP prefix`. */
  readonly what?: string;
  /**
   * `argument` (default): the text came from a caller (API, CLI, CR field). `decode`: it came
   * from a file or a wire protocol, whose parsers report DecodeError.
   */
  readonly error?: 'argument' | 'decode';
}

const PREFIX_LENGTH = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * `address/length`, or a bare address unless `bareAddress` is `refuse`. The length is decimal
 * without leading zeros (`/08` is refused: some tools read it as octal). A `%zone` is refused,
 * having no meaning in a prefix. Throws ArgumentError, or DecodeError with `error: 'decode'`.
 */
export function parseIpPrefix(text: string, options: IpPrefixParseOptions = {}): IpPrefix {
  const what = options.what ?? 'IP prefix';
  const fail = (message: string): never => {
    throw options.error === 'decode'
      ? new DecodeError(`${what}: ${message}`)
      : new ArgumentError(`${what}: ${message}`);
  };
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  // Every IPv6 form has a colon and no IPv4 form does, so the error can name the family meant.
  const family: IpFamily = addressText.includes(':') ? 6 : 4;
  const address = family === 4 ? parseIPv4(addressText) : parseIPv6(addressText);
  if (address === null) return fail(`"${addressText}" is not an IPv${family} address`);
  const maxLength = maxPrefixLength(family);
  let prefixLength: number = maxLength;
  if (slash === -1) {
    if (options.bareAddress === 'refuse') fail(`"${text}" has no /prefix length`);
  } else {
    const lengthText = text.slice(slash + 1);
    if (!PREFIX_LENGTH.test(lengthText) || Number(lengthText) > maxLength) {
      fail(`prefix length "${lengthText}" is not 0–${maxLength}`);
    }
    prefixLength = Number(lengthText);
  }
  const prefix: IpPrefix = { family, address, prefixLength };
  switch (options.hostBits ?? 'keep') {
    case 'keep':
      return prefix;
    case 'clear':
      return maskIpPrefix(prefix);
    case 'refuse':
      if (hasHostBits(prefix)) fail(`"${text}" has host bits set; give the network prefix`);
      return prefix;
  }
}

/** `address/length`, IPv6 in RFC 5952 form, so equal prefixes format equal. Does not validate: see checkIpPrefix. */
export function formatIpPrefix(prefix: IpPrefix): string {
  const address = prefix.family === 4 ? formatIPv4(prefix.address) : formatIPv6(prefix.address);
  return `${address}/${prefix.prefixLength}`;
}

/** A string equal for equal prefixes (host bits included), for Map keys and duplicate checks. */
export function ipPrefixKey(prefix: IpPrefix): string {
  return `${prefix.family}:${formatIpPrefix(prefix)}`;
}

/** 32 or 128. */
export function maxPrefixLength(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

/** True when bits past the prefix length are set, i.e. the text named a host, not a network. */
export function hasHostBits(prefix: IpPrefix): boolean {
  const { address, prefixLength } = prefix;
  for (let bit = prefixLength; bit < address.length * 8; bit++) {
    if ((address[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

/** The network the prefix lies in: a copy with the bits past the prefix length cleared. */
export function maskIpPrefix(prefix: IpPrefix): IpPrefix {
  const address = prefix.address.map((byte, i) => {
    const keep = Math.min(8, Math.max(0, prefix.prefixLength - 8 * i));
    return byte & ((0xff00 >> keep) & 0xff);
  });
  return { family: prefix.family, address, prefixLength: prefix.prefixLength };
}

/**
 * For prefixes built by hand rather than parsed: the address must have its family's length and
 * the prefix length must fit it. Returns the prefix; ArgumentError otherwise.
 */
export function checkIpPrefix(prefix: IpPrefix, what = 'IP prefix'): IpPrefix {
  const { family, address, prefixLength } = prefix;
  const bytes = family === 4 ? 4 : 16;
  if (address.length !== bytes) {
    throw new ArgumentError(`${what}: an IPv${family} address is ${bytes} bytes, got ${address.length}`);
  }
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bytes * 8) {
    throw new ArgumentError(`${what}: IPv${family} prefix length must be 0–${bytes * 8}, got ${prefixLength}`);
  }
  return prefix;
}
