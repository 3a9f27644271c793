import { bytesEqual, decodeBase64Exact } from '@meshguard/core';
import type { MeshNode } from '@meshguard/core/kube';
import { parseEndpoint, type UdpEndpoint } from '../wireguard/endpoint.js';

/**
 * Seeds from the other MeshNodes of our org: the endpoints their agents (or admins, for
 * external hosts) reported in status.endpoint. Revoked nodes, nodes without a certificate and
 * ourselves are left out; a malformed endpoint is skipped, not fatal. Sorted, so an unchanged
 * set compares equal and the SWIM node is not re-seeded for nothing.
 */
export function seedsFromMeshNodes(nodes: Iterable<MeshNode>, org: string, self: Uint8Array): UdpEndpoint[] {
  const seeds = new Map<string, UdpEndpoint>();
  for (const node of nodes) {
    if (node.spec.org !== org || node.spec.revoked === true) continue;
    const endpoint = node.status?.endpoint;
    if (endpoint === undefined || node.status?.certificate === undefined) continue;
    try {
      if (bytesEqual(decodeBase64Exact(node.spec.publicKey, 32, 'spec.publicKey'), self)) continue;
      const parsed = parseEndpoint(endpoint);
      seeds.set(`${parsed.address}|${String(parsed.port)}`, parsed);
    } catch {
      continue;
    }
  }
  return [...seeds.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
}

export function sameSeeds(a: readonly UdpEndpoint[], b: readonly UdpEndpoint[]): boolean {
  return a.length === b.length && a.every((e, i) => e.address === b[i]?.address && e.port === b[i].port);
}
