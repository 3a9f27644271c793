import { toHex } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';

/**
 * Virtual endpoints for relayed peers. The WireGuard device knows a peer only by its endpoint;
 * giving each relayed peer an address of its own in 100::/64 (RFC 6666's discard-only prefix,
 * which nothing routes) lets the device roam, answer and time out exactly as on a direct path,
 * while the runtime recognises the address on the way out and wraps the packet in a relay
 * frame for the peer's relay. A datagram really arriving from such an address is impossible.
 */
export const RELAY_PREFIX = '100::';

export interface RelayRoute {
  readonly peer: Uint8Array;
  readonly virtual: UdpEndpoint;
  relay: UdpEndpoint;
}

export function isRelayEndpoint(e: UdpEndpoint): boolean {
  return e.address.startsWith(RELAY_PREFIX);
}

export class RelayRoutes {
  readonly #byPeer = new Map<string, RelayRoute>();
  readonly #byVirtual = new Map<string, RelayRoute>();
  #next = 1;

  /** The peer's virtual endpoint, now routed through `relay` (a stable address per peer). */
  route(peer: Uint8Array, relay: UdpEndpoint): RelayRoute {
    const key = toHex(peer);
    let route = this.#byPeer.get(key);
    if (route === undefined) {
      // 2^16 addresses, reused only once free: far more than a membership table holds.
      let n = this.#next;
      while (this.#byVirtual.has(virtualAddress(n))) n = (n % 0xffff) + 1;
      this.#next = (n % 0xffff) + 1;
      route = { peer: Uint8Array.from(peer), virtual: { address: virtualAddress(n), port: 1 }, relay };
      this.#byPeer.set(key, route);
      this.#byVirtual.set(route.virtual.address, route);
    }
    route.relay = relay;
    return route;
  }

  forPeer(peer: Uint8Array): RelayRoute | undefined {
    return this.#byPeer.get(toHex(peer));
  }

  forVirtual(e: UdpEndpoint): RelayRoute | undefined {
    return this.#byVirtual.get(e.address);
  }

  forget(peer: Uint8Array): void {
    const key = toHex(peer);
    const route = this.#byPeer.get(key);
    if (route === undefined) return;
    this.#byPeer.delete(key);
    this.#byVirtual.delete(route.virtual.address);
  }

  get size(): number {
    return this.#byPeer.size;
  }
}

function virtualAddress(n: number): string {
  return `${RELAY_PREFIX}${n.toString(16)}`;
}
