import fc from 'fast-check';
import { formatIPv4, formatIPv6 } from '@meshguard/core';
import type { NatType } from '../../src/nat/nat-type.js';
import type { Endpoint, IPv4Endpoint } from '../../src/swim/endpoint-codec.js';
import type { GossipEntry, GossipEvent } from '../../src/swim/gossip-entry-codec.js';

/** fast-check generators for valid codec values, in the canonical text form decoders produce. */
export const arbKey = fc.uint8Array({ minLength: 32, maxLength: 32 });
export const arbU64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
export const arbPort = fc.integer({ min: 0, max: 0xffff });

export const arbIPv4Text = fc.uint8Array({ minLength: 4, maxLength: 4 }).map(formatIPv4);
export const arbIPv6Text = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIPv6);

export const arbIPv4Endpoint: fc.Arbitrary<IPv4Endpoint> = record({
  family: fc.constant(4 as const),
  address: arbIPv4Text,
  port: arbPort,
});

export const arbEndpoint: fc.Arbitrary<Endpoint> = fc.oneof(
  arbIPv4Endpoint,
  record({ family: fc.constant(6 as const), address: arbIPv6Text, port: arbPort }),
);

export const arbNatType: fc.Arbitrary<NatType> = fc.constantFrom('public', 'cone', 'symmetric', 'unknown');
export const arbGossipEvent: fc.Arbitrary<GossipEvent> = fc.constantFrom('join', 'alive', 'suspect', 'dead', 'leave');

export const arbGossipEntry: fc.Arbitrary<GossipEntry> = record({
  subjectPublicKey: arbKey,
  event: arbGossipEvent,
  lamport: arbU64,
  endpoint: fc.option(arbEndpoint, { nil: null }),
  wgPublicKey: fc.option(arbKey, { nil: null }),
  publicEndpoint: fc.option(arbEndpoint, { nil: null }),
  natType: arbNatType,
});

/** fc.record may build null-prototype objects, which deepStrictEqual distinguishes from decoder output. */
export function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

/** Mostly short noise, sometimes exactly `length` bytes, so exact-size decoders get exercised. */
export function arbBytesAround(length: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: length + 40 }), fc.uint8Array({ minLength: length, maxLength: length }));
}
