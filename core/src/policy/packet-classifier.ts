/**
 * Classification of a decrypted inner IP packet for the service policy (spec §12.2).
 * Stricter than the reference, which reads the IPv6 next-header byte without walking
 * extension headers: there, one hop-by-hop header is enough to turn a TCP packet into
 * "unclassified" and slip past a port rule under a default-allow policy.
 */
export type PacketClass =
  | { readonly kind: 'tcp' | 'udp'; readonly port: number; readonly family: 4 | 6 }
  | { readonly kind: 'icmp' }
  | { readonly kind: 'other' }
  | { readonly kind: 'malformed'; readonly reason: string };

/** Extension headers walked before giving up; real traffic uses one or two. */
export const MAX_IPV6_EXTENSION_HEADERS = 8;

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;

const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ICMPV6 = 58;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_ESP = 50;
const IPV6_AH = 51;
const IPV6_NO_NEXT = 59;
const IPV6_DEST_OPTIONS = 60;

// Shared results: the data path classifies every packet, so only TCP/UDP (which carry a
// port) build a fresh object.
const ICMP: PacketClass = Object.freeze({ kind: 'icmp' });
const OTHER: PacketClass = Object.freeze({ kind: 'other' });
const malformed = (reason: string): PacketClass => Object.freeze({ kind: 'malformed', reason });
const EMPTY = malformed('empty packet');
const BAD_VERSION = malformed('IP version is neither 4 nor 6');
const IPV4_SHORT = malformed('shorter than an IPv4 header');
const IPV4_BAD_IHL = malformed('IPv4 header length (IHL) below 5');
const IPV4_HEADER_TRUNCATED = malformed('IPv4 options extend past the end of the packet');
const IPV6_SHORT = malformed('shorter than an IPv6 header');
const IPV6_EXTENSION_TRUNCATED = malformed('IPv6 extension header extends past the end of the packet');
const IPV6_TOO_MANY_EXTENSIONS = malformed(`more than ${MAX_IPV6_EXTENSION_HEADERS} IPv6 extension headers`);
const PORTS_TRUNCATED = malformed('TCP/UDP ports extend past the end of the packet');

function transport(packet: Uint8Array, protocol: number, offset: number, family: 4 | 6): PacketClass {
  if (offset + 4 > packet.length) return PORTS_TRUNCATED;
  // The destination port is bytes 2..3 of both the TCP and the UDP header.
  const port = (packet[offset + 2]! << 8) | packet[offset + 3]!;
  return { kind: protocol === PROTO_TCP ? 'tcp' : 'udp', port, family };
}

function classifyIpv4(packet: Uint8Array): PacketClass {
  if (packet.length < IPV4_MIN_HEADER) return IPV4_SHORT;
  const headerLength = (packet[0]! & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER) return IPV4_BAD_IHL;
  if (headerLength > packet.length) return IPV4_HEADER_TRUNCATED;
  // Later fragments carry no transport header; the first fragment (offset 0) was judged by port.
  const fragmentOffset = ((packet[6]! & 0x1f) << 8) | packet[7]!;
  if (fragmentOffset !== 0) return OTHER;
  const protocol = packet[9]!;
  if (protocol === PROTO_ICMP) return ICMP;
  if (protocol === PROTO_TCP || protocol === PROTO_UDP) return transport(packet, protocol, headerLength, 4);
  return OTHER;
}

function classifyIpv6(packet: Uint8Array): PacketClass {
  if (packet.length < IPV6_HEADER) return IPV6_SHORT;
  let next = packet[6]!;
  let offset = IPV6_HEADER;
  for (let seen = 0; ; seen++) {
    switch (next) {
      case PROTO_TCP:
      case PROTO_UDP:
        return transport(packet, next, offset, 6);
      case PROTO_ICMPV6:
        return ICMP;
      case IPV6_NO_NEXT:
      case IPV6_ESP:
        return OTHER;
      case IPV6_HOP_BY_HOP:
      case IPV6_ROUTING:
      case IPV6_DEST_OPTIONS:
      case IPV6_FRAGMENT:
      case IPV6_AH:
        break;
      default:
        return OTHER;
    }
    // A longer chain is refused rather than treated as "other": "other" goes to the default
    // action, so an endless chain must not be a way around a port rule.
    if (seen === MAX_IPV6_EXTENSION_HEADERS) return IPV6_TOO_MANY_EXTENSIONS;
    if (offset + 8 > packet.length) return IPV6_EXTENSION_TRUNCATED;
    let length: number;
    if (next === IPV6_FRAGMENT) {
      if (((packet[offset + 2]! << 8) | packet[offset + 3]!) >> 3 !== 0) return OTHER;
      length = 8;
    } else if (next === IPV6_AH) {
      length = (packet[offset + 1]! + 2) * 4;
    } else {
      length = (packet[offset + 1]! + 1) * 8;
    }
    if (offset + length > packet.length) return IPV6_EXTENSION_TRUNCATED;
    next = packet[offset]!;
    offset += length;
  }
}

/** Never throws and never copies the packet; see PacketClass for the outcomes. */
export function classifyPacket(packet: Uint8Array): PacketClass {
  if (packet.length === 0) return EMPTY;
  const version = packet[0]! >> 4;
  if (version === 4) return classifyIpv4(packet);
  if (version === 6) return classifyIpv6(packet);
  return BAD_VERSION;
}
