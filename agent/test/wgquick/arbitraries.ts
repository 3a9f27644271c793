import fc from 'fast-check';
import {
  deriveWireGuardKeyPair,
  formatIPv4,
  formatIPv6,
  ipPrefixKey,
  maskIpPrefix,
  type IpPrefix,
} from '@meshguard/core';
import type { Endpoint } from '../../src/swim/endpoint-codec.js';
import type { QuickEndpoint } from '../../src/wgquick/endpoint-text.js';
import type { WgQuickConfig, WgQuickPeer } from '../../src/wgquick/quick-config.js';
import type { UapiDeviceSnapshot, UapiPeerSnapshot, UapiPeerUpdate, UapiSetRequest } from '../../src/wgquick/uapi.js';
import { record } from '../swim/arbitraries.js';

/** Generators of valid values in the canonical form the parsers return. */

export const arbKey = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** Never all zero: the parsers read 64 zeros as "no key". */
export const arbNonZeroKey = arbKey.filter((k) => k.some((b) => b !== 0));
/** Valid (not small-order) public keys, derived the way real ones are. */
export const arbPublicKey = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((seed) => deriveWireGuardKeyPair(seed).publicKey);
export const arbU64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const arbPort = fc.integer({ min: 1, max: 0xffff });

/** A network (host bits zero) or, with `network` false, an address with any host bits. */
export function arbPrefix(network: boolean): fc.Arbitrary<IpPrefix> {
  const of = (family: 4 | 6, bytes: number): fc.Arbitrary<IpPrefix> =>
    fc
      .tuple(fc.uint8Array({ minLength: bytes, maxLength: bytes }), fc.integer({ min: 0, max: bytes * 8 }))
      .map(([address, prefixLength]) => {
        const prefix = { family, address, prefixLength };
        return network ? maskIpPrefix(prefix) : prefix;
      });
  return fc.oneof(of(4, 4), of(6, 16));
}

export const arbIpEndpoint: fc.Arbitrary<Endpoint> = fc.oneof(
  record({
    family: fc.constant(4 as const),
    address: fc.uint8Array({ minLength: 4, maxLength: 4 }).map(formatIPv4),
    port: arbPort,
  }),
  record({
    family: fc.constant(6 as const),
    address: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(formatIPv6),
    port: arbPort,
  }),
);

const arbLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
export const arbQuickEndpoint: fc.Arbitrary<QuickEndpoint> = fc.oneof(
  arbIpEndpoint,
  record({
    family: fc.constant('hostname' as const),
    hostname: fc.array(arbLabel, { minLength: 1, maxLength: 4 }).map((l) => l.join('.')),
    port: arbPort,
  }),
);

const arbQuickPeer: fc.Arbitrary<WgQuickPeer> = record({
  publicKey: arbPublicKey,
  presharedKey: fc.option(arbKey, { nil: null }),
  endpoint: fc.option(arbQuickEndpoint, { nil: null }),
  allowedIps: fc.array(arbPrefix(true), { maxLength: 4 }),
  persistentKeepalive: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
});

/** Valid configs: distinct peer keys and AllowedIPs, an MTU IPv6 can live with. */
export const arbQuickConfig: fc.Arbitrary<WgQuickConfig> = fc
  .record({
    privateKey: arbNonZeroKey,
    listenPort: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: null }),
    addresses: fc.uniqueArray(arbPrefix(false), { maxLength: 4, selector: ipPrefixKey }),
    mtu: fc.option(fc.integer({ min: 1280, max: 0xffff }), { nil: null }),
    peers: fc.uniqueArray(arbQuickPeer, {
      maxLength: 4,
      selector: (p) => Buffer.from(p.publicKey).toString('hex'),
    }),
  })
  .map(({ privateKey, listenPort, addresses, mtu, peers }): WgQuickConfig => {
    const seen = new Set<string>();
    const distinctRoutes = peers.map((p) => ({
      ...p,
      allowedIps: p.allowedIps.filter((a) => {
        const key = ipPrefixKey(a);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      }),
    }));
    return { interface: { privateKey, listenPort, addresses, mtu }, peers: distinctRoutes };
  });

const arbPeerSnapshot: fc.Arbitrary<UapiPeerSnapshot> = record({
  publicKey: arbKey,
  presharedKey: fc.option(arbNonZeroKey, { nil: null }),
  endpoint: fc.option(arbIpEndpoint, { nil: null }),
  lastHandshakeTimeSec: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
  lastHandshakeTimeNsec: fc.integer({ min: 0, max: 999_999_999 }),
  txBytes: arbU64,
  rxBytes: arbU64,
  persistentKeepaliveInterval: fc.integer({ min: 0, max: 0xffff }),
  allowedIps: fc.array(arbPrefix(true), { maxLength: 4 }),
});

export const arbDeviceSnapshot: fc.Arbitrary<UapiDeviceSnapshot> = record({
  privateKey: fc.option(arbNonZeroKey, { nil: null }),
  listenPort: fc.integer({ min: 0, max: 0xffff }),
  fwmark: fc.integer({ min: 0, max: 0xffffffff }),
  peers: fc.array(arbPeerSnapshot, { maxLength: 4 }),
});

const arbPeerUpdate: fc.Arbitrary<UapiPeerUpdate> = fc.oneof(
  record({ kind: fc.constant('remove' as const), publicKey: arbKey }),
  fc
    .record(
      {
        publicKey: arbKey,
        updateOnly: fc.boolean(),
        presharedKey: fc.option(arbNonZeroKey, { nil: null }),
        endpoint: arbIpEndpoint,
        persistentKeepaliveInterval: fc.integer({ min: 0, max: 0xffff }),
        replaceAllowedIps: fc.boolean(),
        allowedIps: fc.array(arbPrefix(true), { maxLength: 4 }),
      },
      { requiredKeys: ['publicKey', 'updateOnly', 'replaceAllowedIps', 'allowedIps'], noNullPrototype: true },
    )
    .map((p): UapiPeerUpdate => ({ kind: 'upsert', ...p })),
);

export const arbSetRequest: fc.Arbitrary<UapiSetRequest> = record({
  device: fc.record(
    {
      privateKey: fc.option(arbNonZeroKey, { nil: null }),
      listenPort: fc.integer({ min: 0, max: 0xffff }),
      fwmark: fc.integer({ min: 0, max: 0xffffffff }),
      replacePeers: fc.boolean(),
    },
    { requiredKeys: ['replacePeers'], noNullPrototype: true },
  ),
  peers: fc.array(arbPeerUpdate, { maxLength: 4 }),
});
