import { ArgumentError, DecodeError, parseIPv4, parseIPv6 } from '@meshguard/core';
import { parseIpEndpointText } from '../wgquick/endpoint-text.js';

/** A UDP peer address as the socket layer reports it. */
export interface UdpEndpoint {
  readonly address: string;
  readonly port: number;
}

export function endpointKey(e: UdpEndpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function sameEndpoint(a: UdpEndpoint | null, b: UdpEndpoint): boolean {
  return a !== null && a.port === b.port && a.address === b.address;
}

/** address ‖ BE16 port: the input of a cookie, binding it to where the datagram came from. */
export function endpointBytes(e: UdpEndpoint): Uint8Array {
  const addr = parseIPv4(e.address) ?? parseIPv6(e.address);
  if (addr === null) throw new ArgumentError(`not an IP address: ${e.address}`);
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out[addr.length] = e.port >> 8;
  out[addr.length + 1] = e.port & 0xff;
  return out;
}

/**
 * `1.2.3.4:51820` or `[::1]:51820`, read exactly as UAPI's `endpoint=` is (no hostnames:
 * resolution is the caller's job). IPv6 comes back compressed and lowercase, as node:dgram
 * reports senders, so sameEndpoint() can match a configured endpoint to its datagrams.
 * ArgumentError, since the text comes from a caller rather than a file or the wire.
 */
export function parseEndpoint(text: string): UdpEndpoint {
  try {
    const { address, port } = parseIpEndpointText(text, 'endpoint');
    return { address, port };
  } catch (err) {
    if (err instanceof DecodeError) throw new ArgumentError(err.message, { cause: err });
    throw err;
  }
}
