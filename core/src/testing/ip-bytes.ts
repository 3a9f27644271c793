import { parseIPv4, parseIPv6 } from '../addressing/ip-text.js';

/** The bytes of an IPv4 or IPv6 literal, for expected values in tests; throws on a typo instead of returning null. */
export function ipBytes(text: string): Uint8Array {
  const bytes = parseIPv4(text) ?? parseIPv6(text);
  if (bytes === null) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return bytes;
}
