import { isIP } from 'node:net';
import { ArgumentError, parseIPv4, parseIPv6 } from '@meshguard/core';

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
  const addr = isIP(e.address) === 6 ? parseIPv6(e.address) : parseIPv4(e.address);
  if (addr === null) throw new ArgumentError(`not an IP address: ${e.address}`);
  const out = new Uint8Array(addr.length + 2);
  out.set(addr);
  out[addr.length] = e.port >> 8;
  out[addr.length + 1] = e.port & 0xff;
  return out;
}

/** `1.2.3.4:51820` or `[::1]:51820` (no hostnames: resolution is the caller's job). */
export function parseEndpoint(text: string): UdpEndpoint {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  const address = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (address === undefined || isIP(address) === 0 || !(port >= 1 && port <= 65535)) {
    throw new ArgumentError(`invalid endpoint "${text}" (expected ip:port or [ipv6]:port)`);
  }
  return { address, port };
}
