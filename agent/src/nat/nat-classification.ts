import { parseIPv4 } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { NatType } from './nat-type.js';

/** One STUN server's answer: where it says our datagrams came from. */
export interface StunObservation {
  readonly server: UdpEndpoint;
  readonly mapped: UdpEndpoint;
}

export interface NatClassification {
  readonly natType: NatType;
  /** What peers should send to, when the answers make that knowable (not for symmetric NAT). */
  readonly publicEndpoint: UdpEndpoint | null;
  /** One line for logs and status: why this type. */
  readonly reason: string;
}

/**
 * Why a mapped address cannot be where the internet sees us, or null if it can be. A STUN
 * answer naming such an address is broken or hostile, and is treated as no answer: the
 * reference advertises whatever comes back (spec §16), which lets one bad server point the
 * mesh's traffic at loopback, multicast or our own mesh range.
 */
export function stunAnswerProblem(mapped: UdpEndpoint): string | null {
  if (mapped.port === 0) return 'port 0';
  const a = parseIPv4(mapped.address);
  if (a === null) return `not an IPv4 address: ${mapped.address}`;
  const [b0, b1] = [a[0]!, a[1]!];
  if (b0 === 0) return `"this network" address ${mapped.address}`;
  if (b0 === 127) return `loopback address ${mapped.address}`;
  if (b0 === 169 && b1 === 254) return `link-local address ${mapped.address}`;
  if (b0 >= 224 && b0 < 240) return `multicast address ${mapped.address}`;
  if (b0 >= 240) return `reserved address ${mapped.address}`;
  if (b0 === 10 && b1 === 99) return `meshguard mesh address ${mapped.address}`;
  return null;
}

/**
 * Spec §10's classification, made stricter where the reference guesses:
 *  - one answer is not enough: a single server cannot be cross-checked, so the type stays
 *    unknown (the reference classifies from a lone answer);
 *  - servers that disagree on our IP address cannot both be right: one is lying or we are
 *    multi-homed; either way the answer is unknown, never "symmetric";
 *  - the same IP with different ports is a mapping per destination: symmetric;
 *  - agreement on an address that is one of our own interfaces' with our own port is public —
 *    the reference only compares ports, which calls every port-preserving NAT public;
 *  - anything else that agrees is cone.
 */
export function classifyNat(
  observations: readonly StunObservation[],
  localAddresses: readonly string[],
  localPort: number,
): NatClassification {
  if (observations.length < 2) {
    return {
      natType: 'unknown',
      publicEndpoint: null,
      reason: `${observations.length} usable STUN answer(s); two servers must agree`,
    };
  }
  const first = observations[0]!.mapped;
  const otherIp = observations.find((o) => o.mapped.address !== first.address);
  if (otherIp !== undefined) {
    return {
      natType: 'unknown',
      publicEndpoint: null,
      reason: `STUN servers disagree on our address (${first.address} vs ${otherIp.mapped.address})`,
    };
  }
  if (observations.some((o) => o.mapped.port !== first.port)) {
    return {
      natType: 'symmetric',
      publicEndpoint: null,
      reason: `mapped port differs per server (${observations.map((o) => o.mapped.port).join(', ')})`,
    };
  }
  if (first.port === localPort && localAddresses.includes(first.address)) {
    return { natType: 'public', publicEndpoint: first, reason: `${first.address} is on a local interface` };
  }
  return { natType: 'cone', publicEndpoint: first, reason: `every server sees ${first.address}:${first.port}` };
}
