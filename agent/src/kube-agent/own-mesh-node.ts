import {
  bytesEqual,
  decodeBase64Exact,
  decodeNodeCertificate,
  encodeBase64,
  errorMessage,
  validateCertificate,
  type NodeCertificate,
} from '@meshguard/core';
import { MESHGUARD_API_VERSION, MeshNodeCondition, type MeshNode } from '@meshguard/core/kube';

/** Our field manager for server-side apply: the fields the agent owns, and only those. */
export const AGENT_FIELD_MANAGER = 'meshguard-agent';

export interface AgentKeys {
  readonly publicKey: Uint8Array;
  readonly wgPublicKey: Uint8Array;
}

/**
 * The MeshNode an agent applies for itself: named after its cluster Node, so the admission
 * policy can tie the object to the node its service-account token is bound to. Only spec fields
 * the agent owns appear; approval, revocation and status belong to others.
 */
export function ownMeshNodeApply(nodeName: string, org: string, keys: AgentKeys): Record<string, unknown> {
  return {
    apiVersion: MESHGUARD_API_VERSION,
    kind: 'MeshNode',
    metadata: { name: nodeName },
    spec: {
      org,
      nodeName,
      publicKey: encodeBase64(keys.publicKey),
      wireguardPublicKey: encodeBase64(keys.wgPublicKey),
    },
  };
}

export type CertificateVerdict =
  | { readonly kind: 'ok'; readonly bytes: Uint8Array; readonly certificate: NodeCertificate }
  | { readonly kind: 'waiting'; readonly reason: string }
  | { readonly kind: 'revoked'; readonly reason: string };

/**
 * Whether status.certificate is one this agent can run with: signed by the org it trusts, for
 * its identity and for the WireGuard key of this start (a certificate for the key of an earlier
 * start is the operator not having caught up yet), and current. The API server is not trusted
 * with the certificate's meaning: the bytes are checked as any peer will check them.
 */
export function acceptCertificate(
  node: MeshNode | undefined,
  keys: AgentKeys,
  orgPublicKey: Uint8Array | undefined,
  now: bigint,
): CertificateVerdict {
  if (node === undefined) return { kind: 'waiting', reason: 'own MeshNode not found' };
  if (node.spec.revoked === true) return { kind: 'revoked', reason: 'spec.revoked is set on the MeshNode' };
  const text = node.status?.certificate;
  if (text === undefined) {
    const ready = node.status?.conditions?.find((c) => c.type === MeshNodeCondition.Ready);
    return {
      kind: 'waiting',
      reason: `no certificate yet${ready === undefined ? '' : ` (${ready.reason}: ${ready.message})`}`,
    };
  }
  if (orgPublicKey === undefined) return { kind: 'waiting', reason: 'the org public key is not known yet' };
  let bytes: Uint8Array;
  let certificate: NodeCertificate;
  try {
    bytes = decodeBase64Exact(text, 314, 'status.certificate');
    certificate = decodeNodeCertificate(bytes);
  } catch (err) {
    return { kind: 'waiting', reason: `status.certificate does not decode: ${errorMessage(err)}` };
  }
  if (certificate.version !== 2) return { kind: 'waiting', reason: 'status.certificate is v1; the agent needs v2' };
  if (!bytesEqual(certificate.wgPublicKey, keys.wgPublicKey)) {
    return { kind: 'waiting', reason: 'status.certificate is for an earlier WireGuard key' };
  }
  const check = validateCertificate(certificate, {
    now,
    expectedNode: keys.publicKey,
    isTrustedOrg: (org) => bytesEqual(org, orgPublicKey),
    isRevoked: () => false,
  });
  if (!check.ok) return { kind: 'waiting', reason: `status.certificate refused: ${check.message}` };
  return { kind: 'ok', bytes, certificate };
}
