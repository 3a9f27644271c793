import type { NatType } from '../nat/nat-type.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { encodeGossipEntry, type GossipEntry, type GossipEvent } from './gossip-entry-codec.js';
import type { Member } from './member.js';
import { toWireEndpoint } from './udp-endpoint.js';

/**
 * A gossip entry about a member as we know it. Its `lamport` is the member's incarnation:
 * that is what orders liveness news about it. Only join/alive carry addresses and keys (a
 * death notice naming an endpoint would only help someone redirect traffic).
 */
export function entryAbout(m: Member, event: GossipEvent): GossipEntry {
  const full = event === 'alive' || event === 'join';
  return {
    subjectPublicKey: m.publicKey,
    event,
    lamport: m.incarnation,
    endpoint: full ? toWireEndpoint(m.endpoint) : null,
    wgPublicKey: full ? m.wgPublicKey : null,
    publicEndpoint: full ? m.publicEndpoint : null,
    natType: full ? m.natType : 'unknown',
  };
}

export interface SelfDescription {
  readonly publicKey: Uint8Array;
  readonly wgPublicKey: Uint8Array | null;
  readonly advertised: UdpEndpoint | null;
  readonly publicEndpoint: UdpEndpoint | null;
  readonly natType: NatType;
}

/** Our own `alive` entry, encoded once per incarnation (it rides on a large share of our messages). */
export class SelfEntry {
  #self: SelfDescription;
  #cached: { readonly entry: GossipEntry; readonly bytes: Uint8Array } | null = null;

  constructor(self: SelfDescription) {
    this.#self = self;
  }

  /** New STUN results: the next entry (at a new incarnation) carries them. */
  updateNat(publicEndpoint: UdpEndpoint | null, natType: NatType): void {
    this.#self = { ...this.#self, publicEndpoint, natType };
    this.#cached = null;
  }

  at(incarnation: bigint): { readonly entry: GossipEntry; readonly bytes: Uint8Array } {
    if (this.#cached === null || this.#cached.entry.lamport !== incarnation) {
      const entry: GossipEntry = {
        subjectPublicKey: this.#self.publicKey,
        event: 'alive',
        lamport: incarnation,
        endpoint: toWireEndpoint(this.#self.advertised),
        wgPublicKey: this.#self.wgPublicKey,
        publicEndpoint: toWireEndpoint(this.#self.publicEndpoint),
        natType: this.#self.natType,
      };
      this.#cached = { entry, bytes: encodeGossipEntry(entry) };
    }
    return this.#cached;
  }
}
