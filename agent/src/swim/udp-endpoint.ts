import { parseIPv4, parseIPv6 } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { Endpoint } from './endpoint-codec.js';

/**
 * Between the socket's view of an address (UdpEndpoint) and the wire's (the 20-byte Endpoint
 * of spec §6.3). IPv4-mapped IPv6, as a dual-stack socket reports IPv4 senders, is carried as
 * IPv4 so both sides of the mesh name a peer the same way.
 */
export function toWireEndpoint(e: UdpEndpoint | null): Endpoint | null {
  if (e === null) return null;
  // Plain dotted quads first, checked without allocating: a node converts its members'
  // addresses for every rumour it starts about them.
  if (isCanonicalDottedQuad(e.address)) return { family: 4, address: e.address, port: e.port };
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(e.address);
  if (mapped !== null) return { family: 4, address: mapped[1]!, port: e.port };
  if (parseIPv4(e.address) !== null) return { family: 4, address: e.address, port: e.port };
  if (parseIPv6(e.address) !== null) return { family: 6, address: e.address, port: e.port };
  return null;
}

/**
 * The wire endpoint as a UDP destination, or null when it cannot be one: port 0, the
 * unspecified address, or a mesh address — the reference advertises `[mesh IPv6]:51821` when
 * it knows no public address (spec §7.6), which is only reachable through the very tunnel
 * SWIM is meant to set up.
 */
export function fromWireEndpoint(e: Endpoint | null): UdpEndpoint | null {
  if (e === null || e.port === 0) return null;
  if (e.family === 4) {
    // Decoded endpoints are canonical dotted quads, so prefixes can be read off the text.
    if (e.address === '0.0.0.0' || e.address.startsWith('10.99.')) return null;
    return { address: e.address, port: e.port };
  }
  const bytes = parseIPv6(e.address);
  if (bytes === null || bytes.every((b) => b === 0)) return null;
  if (bytes[0] === 0xfd && bytes[1] === 0x99 && bytes[2] === 0x6d && bytes[3] === 0x67) {
    if (bytes.subarray(4, 8).every((b) => b === 0)) return null;
  }
  return { address: e.address, port: e.port };
}

export function sameUdpEndpoint(a: UdpEndpoint | null, b: UdpEndpoint | null): boolean {
  return a === b || (a !== null && b !== null && a.port === b.port && a.address === b.address);
}

/**
 * Four decimal octets without leading zeros — a subset of what core's parseIPv4 accepts
 * (anything else still goes through it), so the answer never differs from it.
 */
function isCanonicalDottedQuad(text: string): boolean {
  let parts = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || ++parts > 4) return false;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return parts === 4;
}
