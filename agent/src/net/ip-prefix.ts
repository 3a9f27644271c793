import { ArgumentError, parseIPv4, parseIPv6 } from '@meshguard/core';

/** An address with its prefix length, as written `10.99.1.2/16` or `fd99:6d67::1/64`. */
export interface IpPrefix {
  readonly family: 4 | 6;
  /** 4 or 16 bytes, network order. */
  readonly address: Uint8Array;
  readonly prefixLength: number;
}

const PREFIX_LENGTH = /^(0|[1-9][0-9]{0,2})$/;

/** Parses `address[/length]`; a bare address is a host prefix (/32 or /128), as `ip` reads it. */
export function parseIpPrefix(text: string): IpPrefix {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addressText);
  const address = v4 ?? parseIPv6(addressText);
  if (address === null) throw new ArgumentError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  const family = v4 === null ? 6 : 4;
  const maxLength = address.length * 8;
  if (slash < 0) return { family, address, prefixLength: maxLength };
  const lengthText = text.slice(slash + 1);
  const prefixLength = PREFIX_LENGTH.test(lengthText) ? Number(lengthText) : NaN;
  if (!(prefixLength <= maxLength)) {
    throw new ArgumentError(`prefix length in ${JSON.stringify(text)} must be 0-${maxLength}`);
  }
  return { family, address, prefixLength };
}

/** True when bits past the prefix length are set, i.e. the text names a host, not a network. */
export function hasHostBits(prefix: IpPrefix): boolean {
  const { address, prefixLength } = prefix;
  for (let bit = prefixLength; bit < address.length * 8; bit++) {
    if ((address[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}
