import { DecodeError, formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from '@meshguard/core';

/** An address with a prefix length: an interface address (`Address`) or a route (`AllowedIPs`). */
export interface IpPrefix {
  readonly family: 4 | 6;
  /** Dotted quad, or RFC 5952 text for IPv6. */
  readonly address: string;
  readonly prefixLength: number;
}

/**
 * `address` keeps host bits (10.0.0.1/24 is interface 10.0.0.1 on a /24); `network` zeroes them,
 * as the kernel and wireguard-go do when they insert an allowed IP, so 10.0.0.1/24 and
 * 10.0.0.0/24 compare equal.
 */
export type PrefixKind = 'address' | 'network';

const PREFIX_LENGTH = /^(?:0|[1-9][0-9]{0,2})$/;

/**
 * `ip/len`, or a bare IP when `bareHost` is set (then /32 or /128, as wg-quick and `wg` read it).
 * The length is decimal without leading zeros; a `%zone` is refused, having no meaning in a route.
 */
export function parseIpPrefix(text: string, kind: PrefixKind, what: string, bareHost: boolean): IpPrefix {
  const slash = text.indexOf('/');
  const ipText = slash === -1 ? text : text.slice(0, slash);
  const family = ipText.includes(':') ? 6 : 4;
  const bytes = family === 4 ? parseIPv4(ipText) : parseIPv6(ipText);
  if (bytes === null) throw new DecodeError(`${what}: "${ipText}" is not an IPv${family} address`);
  const maxLength = family === 4 ? 32 : 128;
  let prefixLength = maxLength;
  if (slash === -1) {
    if (!bareHost) throw new DecodeError(`${what}: "${text}" has no /prefix length`);
  } else {
    const lengthText = text.slice(slash + 1);
    if (!PREFIX_LENGTH.test(lengthText) || Number(lengthText) > maxLength) {
      throw new DecodeError(`${what}: prefix length "${lengthText}" is not 0–${maxLength}`);
    }
    prefixLength = Number(lengthText);
  }
  if (kind === 'network') maskHostBits(bytes, prefixLength);
  return { family, address: family === 4 ? formatIPv4(bytes) : formatIPv6(bytes), prefixLength };
}

export function formatIpPrefix(prefix: IpPrefix): string {
  return `${prefix.address}/${prefix.prefixLength}`;
}

/** A key equal for equal canonical prefixes, for duplicate detection. */
export function ipPrefixKey(prefix: IpPrefix): string {
  return `${prefix.family}:${formatIpPrefix(prefix)}`;
}

function maskHostBits(bytes: Uint8Array, prefixLength: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefixLength - 8 * i));
    bytes[i] = bytes[i]! & ((0xff00 >> keep) & 0xff);
  }
}
