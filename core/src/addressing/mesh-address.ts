import { blake3 } from '@noble/hashes/blake3.js';
import { isAllZero, stripTrailingNuls } from '../encoding/bytes.js';
import { toHex } from '../encoding/hex.js';

export const MESH_IPV4_PREFIX = '10.99.0.0/16';
export const MESH_IPV6_PREFIX = 'fd99:6d67::/64';

export interface MeshAddresses {
  /** Dotted quad inside 10.99.0.0/16. */
  readonly ipv4: string;
  /** Compressed RFC 5952 text inside fd99:6d67::/64. */
  readonly ipv6: string;
  readonly ipv4Bytes: Uint8Array;
  readonly ipv6Bytes: Uint8Array;
}

/** Mesh IPv4/IPv6 from an Ed25519 public key (spec §3.1–3.2). Collisions are possible and not detected. */
export function meshAddresses(publicKey: Uint8Array): MeshAddresses {
  const h = blake3(publicKey);
  let o3 = h[0]!;
  let o4 = h[1]!;
  // .0 and .255 would be network/broadcast-looking host octets; 10.99.0.x is avoided too.
  if (o4 === 0) o4 = 1;
  if (o4 === 255) o4 = 254;
  if (o3 === 0) o3 = 1;
  const ipv4Bytes = Uint8Array.of(10, 99, o3, o4);

  const ipv6Bytes = new Uint8Array(16);
  ipv6Bytes.set([0xfd, 0x99, 0x6d, 0x67], 0);
  ipv6Bytes.set(h.subarray(0, 8), 8);
  if (isAllZero(h.subarray(0, 8))) ipv6Bytes[15] = 1;

  return { ipv4: formatIPv4(ipv4Bytes), ipv6: formatIPv6(ipv6Bytes), ipv4Bytes, ipv6Bytes };
}

export function formatIPv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/** RFC 5952: lowercase, no leading zeros, longest run (≥ 2) of zero groups as `::`. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Six lowercase hex characters naming an org's mesh domain (spec §3.3). */
export function orgDomain(orgPublicKey: Uint8Array): string {
  return toHex(blake3(orgPublicKey).subarray(0, 3));
}

/** `<node_name>.<org_domain>.mesh`, node name taken from the certificate's NUL-padded field. */
export function nodeFqdn(nodeName: string | Uint8Array, orgPublicKey: Uint8Array): string {
  const name = typeof nodeName === 'string' ? nodeName : Buffer.from(stripTrailingNuls(nodeName)).toString('latin1');
  return `${name}.${orgDomain(orgPublicKey)}.mesh`;
}
