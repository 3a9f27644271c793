import { ArgumentError, formatIPv6, parseIPv4, parseIPv6 } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';

/**
 * Addresses as the native UDP socket carries them: 16 bytes per endpoint (IPv6, IPv4 as the
 * mapped ::ffff:a.b.c.d) plus a port. Text is what the rest of the agent speaks (UdpEndpoint:
 * IPv4 as a dotted quad, IPv6 compressed and lowercase as core's formatIPv6 writes it, so
 * sameEndpoint() matches endpoints parsed from configuration). Both directions are cached,
 * because formatting or parsing text costs more per datagram than the syscall's share does.
 */

/** Bytes of one address in the batch arrays. */
export const ADDRESS_BYTES = 16;

/** Entries in the receive-side cache: a power of two, far more than the peers of one node. */
const NAME_CACHE_BITS = 9;
/** Send-side cache entries before it is emptied and starts over (bounded: destinations come from peers). */
const DESTINATION_CACHE_LIMIT = 1024;

function isV4Mapped(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/** Text for the address at addresses[at, +16): a dotted quad for IPv4-mapped, else RFC 5952 IPv6. */
export function formatAddress(addresses: Uint8Array, at: number): string {
  if (isV4Mapped(addresses, at)) {
    return `${addresses[at + 12]!}.${addresses[at + 13]!}.${addresses[at + 14]!}.${addresses[at + 15]!}`;
  }
  return formatIPv6(addresses.subarray(at, at + ADDRESS_BYTES));
}

/**
 * Source address text for received datagrams: a direct-mapped cache keyed by the 16 address
 * bytes and the port, returning the same frozen UdpEndpoint for the same source. Lookup is a
 * hash of five words and five compares, no string or Map work; a colliding source simply
 * replaces the entry, so spoofed sources cannot grow it. Not tied to one batch's arrays.
 */
export class EndpointNameCache {
  readonly #keys = new Uint32Array((1 << NAME_CACHE_BITS) * 5);
  readonly #values: (UdpEndpoint | undefined)[] = new Array<UdpEndpoint | undefined>(1 << NAME_CACHE_BITS).fill(
    undefined,
  );
  hits = 0;
  misses = 0;

  /**
   * The endpoint of entry i: `words` is a Uint32Array view of the same memory as `addresses`
   * (so entry i's address is words[4i, +4)), `ports[i]` its port.
   */
  lookup(addresses: Uint8Array, words: Uint32Array, ports: Uint16Array, i: number): UdpEndpoint {
    const w = i * 4;
    const w0 = words[w]!;
    const w1 = words[w + 1]!;
    const w2 = words[w + 2]!;
    const w3 = words[w + 3]!;
    const port = ports[i]!;
    let h = Math.imul(w3 ^ port, 0x9e3779b1);
    h = Math.imul(h ^ w2, 0x85ebca6b);
    h = Math.imul(h ^ w1 ^ w0, 0xc2b2ae35);
    const index = h >>> (32 - NAME_CACHE_BITS);
    const slot = index * 5;
    const keys = this.#keys;
    const cached = this.#values[index];
    if (
      cached !== undefined &&
      keys[slot] === w0 &&
      keys[slot + 1] === w1 &&
      keys[slot + 2] === w2 &&
      keys[slot + 3] === w3 &&
      keys[slot + 4] === port
    ) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const endpoint: UdpEndpoint = Object.freeze({ address: formatAddress(addresses, i * ADDRESS_BYTES), port });
    keys[slot] = w0;
    keys[slot + 1] = w1;
    keys[slot + 2] = w2;
    keys[slot + 3] = w3;
    keys[slot + 4] = port;
    this.#values[index] = endpoint;
    return endpoint;
  }
}

/** 16 bytes for an IP literal (IPv4 as ::ffff:a.b.c.d), or null. Zone ids (`%eth0`) are not IP literals here. */
export function addressBytes(address: string): Uint8Array | null {
  const v4 = parseIPv4(address);
  if (v4 !== null) {
    const mapped = new Uint8Array(ADDRESS_BYTES);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(v4, 12);
    return mapped;
  }
  return parseIPv6(address);
}

/** Destination text → 16 bytes, cached so a send to a known peer parses nothing. */
export class DestinationCache {
  readonly #bytes = new Map<string, Uint8Array>();

  /** The 16 bytes for `address`; ArgumentError if it is not an IPv4 or IPv6 literal. */
  bytes(address: string): Uint8Array {
    let bytes = this.#bytes.get(address);
    if (bytes === undefined) {
      const parsed = addressBytes(address);
      if (parsed === null) throw new ArgumentError(`not an IP address: ${JSON.stringify(address)}`);
      if (this.#bytes.size >= DESTINATION_CACHE_LIMIT) this.#bytes.clear();
      this.#bytes.set(address, parsed);
      bytes = parsed;
    }
    return bytes;
  }
}

/** Port checks shared by every send path: a datagram to port 0 (or a non-port) can never be delivered. */
export function checkPort(port: number, what = 'port'): void {
  if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
    throw new ArgumentError(`${what} must be an integer in 1-65535, got ${port}`);
  }
}
