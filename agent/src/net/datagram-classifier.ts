/**
 * What a datagram on the node's single UDP port is (spec §6.1), decided from its first bytes
 * without parsing it. Order matters and follows the reference so that both implementations
 * route the same bytes the same way, with two corrections that cost no compatibility:
 * STUN answers are recognised as STUN (the reference hands them to SWIM, where they decode as
 * garbage Pings), and a 20-byte "MGHP" probe is recognised before the WireGuard test.
 */
export type DatagramKind = 'relay' | 'wireguard' | 'stun' | 'holepunch-probe' | 'app' | 'swim' | 'invalid';

/**
 * Why the node's socket dropped a datagram before any protocol saw it: `invalid` (empty, or too
 * short to classify), `app-message` (0x50, the mobile library's, not handled by the daemon),
 * `gossip-only` (a WireGuard message to a node running without a data plane).
 */
export const DATAGRAM_DROP_REASONS = ['invalid', 'app-message', 'gossip-only'] as const;

export type DatagramDropReason = (typeof DATAGRAM_DROP_REASONS)[number];

const TAG_RELAY = 0x31;
const TAG_APP = 0x50;
const STUN_MAGIC_COOKIE = 0x2112a442;
const PROBE_BYTES = 20;
/** "MGHP" */
const PROBE_MAGIC = 0x4d474850;

export function classifyDatagram(b: Uint8Array): DatagramKind {
  if (b.length === 0) return 'invalid';
  if (b[0] === TAG_RELAY) return 'relay';
  if (b.length < 4) return 'invalid';
  const type = b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24);
  if (b.length === PROBE_BYTES && ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0 === PROBE_MAGIC) {
    return 'holepunch-probe';
  }
  if (type >= 1 && type <= 4) return 'wireguard';
  // STUN: two zero top bits in the type, the magic cookie at bytes 4..8, length a multiple of 4.
  if (
    b.length >= 20 &&
    (b[0]! & 0xc0) === 0 &&
    ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0 === STUN_MAGIC_COOKIE
  ) {
    return 'stun';
  }
  if (b[0] === TAG_APP) return 'app';
  return 'swim';
}
