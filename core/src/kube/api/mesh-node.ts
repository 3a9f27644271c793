import { RevocationReason, serviceRuleFromTokens, type ServiceRule } from '../../index.js';
import type { Condition } from './condition.js';
import type { MeshguardApiVersion } from './group.js';
import type { ResourceMeta } from './resource-meta.js';

// Each list below is the `enum` of the same field in crds/meshnodes.meshguard.dev.yaml; a test
// compares them, so the CRD and the operator cannot drift apart.
export const REVOCATION_REASONS = ['admin-removed', 'key-compromised', 'unspecified'] as const;
export type RevocationReasonText = (typeof REVOCATION_REASONS)[number];

export const SERVICE_ACTIONS = ['allow', 'deny'] as const;
export type ServiceActionText = (typeof SERVICE_ACTIONS)[number];

export const SERVICE_PROTOCOLS = ['tcp', 'udp', 'all'] as const;
export type ServiceProtocolText = (typeof SERVICE_PROTOCOLS)[number];

export interface ServicePolicyRule {
  readonly action: ServiceActionText;
  /** Default `all`. */
  readonly protocol?: ServiceProtocolText;
  /** `all`, a port (number or text) or `N-M`; default `all`. Port 0 means all, as in policy files. */
  readonly ports?: number | string;
}

export interface ServicePolicySpec {
  /** Default `allow`, as a node without a services/ directory (spec §12.1). */
  readonly defaultAction?: ServiceActionText;
  /** First match wins (spec §12.2); at most 64, the per-file limit of the spec. */
  readonly rules?: readonly ServicePolicyRule[];
}

export interface MeshNodeSpec {
  /** Name of the MeshOrg; immutable. */
  readonly org: string;
  /** Ed25519 identity key, standard base64; immutable. */
  readonly publicKey: string;
  /** X25519 tunnel key, standard base64; required when the org issues v2 certificates. */
  readonly wireguardPublicKey?: string;
  /** The cluster Node; exactly one of nodeName and external (true). Immutable. */
  readonly nodeName?: string;
  readonly external?: boolean;
  /** Certificate node name; default metadata.name. DNS label of at most 32 characters. */
  readonly dnsName?: string;
  /** Overrides the org's certificate lifetime. */
  readonly lifetime?: string;
  readonly approved?: boolean;
  /** Permanent once true. */
  readonly revoked?: boolean;
  /** Only with revoked; default admin-removed. Fixed once revoked. */
  readonly revocationReason?: RevocationReasonText;
  readonly servicePolicy?: ServicePolicySpec;
}

export interface MeshNodeRevocationStatus {
  readonly reason?: RevocationReasonText;
  readonly revokedAt?: string;
  /** The signed 138-byte OrgCertRevoke, standard base64. */
  readonly message?: string;
}

export interface MeshNodeStatus {
  readonly conditions?: readonly Condition[];
  /** The 314-byte certificate slot, standard base64 (420 characters). */
  readonly certificate?: string;
  readonly meshIPv4?: string;
  readonly meshIPv6?: string;
  /** `<node name>.<org domain>.mesh`. */
  readonly dnsName?: string;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
  readonly endpoint?: string;
  readonly lastSeen?: string;
  readonly revocation?: MeshNodeRevocationStatus;
}

export interface MeshNode {
  readonly apiVersion: MeshguardApiVersion;
  readonly kind: 'MeshNode';
  readonly metadata: ResourceMeta;
  readonly spec: MeshNodeSpec;
  readonly status?: MeshNodeStatus;
}

/** Condition types a MeshNode's status carries. */
export const MeshNodeCondition = {
  /** Approved by spec.approved or by the org's enrollment policy. */
  Approved: 'Approved',
  /** status.certificate holds a current certificate for the current keys. */
  CertificateIssued: 'CertificateIssued',
  /** A signed revocation is published. */
  Revoked: 'Revoked',
  /** Certified, not revoked, and seen by its agent. */
  Ready: 'Ready',
} as const;

/** The name written into the certificate (spec §4.1 node_name) and used in the node's FQDN. */
export function certificateNodeNameOf(node: Pick<MeshNode, 'metadata' | 'spec'>): string {
  return node.spec.dnsName ?? node.metadata.name;
}

/** The wire code of a revocation reason (spec §5.3); unset is admin-removed, as the CLI's default. */
export function revocationReasonCode(reason: RevocationReasonText | undefined): number {
  switch (reason) {
    case 'unspecified':
      return RevocationReason.unspecified;
    case 'key-compromised':
      return RevocationReason.keyCompromised;
    case 'admin-removed':
    case undefined:
      return RevocationReason.adminRemoved;
  }
}

/**
 * A CR rule as core's ServiceRule, through the same parser as policy files, so that a rule means
 * the same on a cluster node as in a standalone node's services/ directory. Throws PolicyError
 * for a rule that validateMeshNode would have reported.
 */
export function toServiceRule(rule: ServicePolicyRule): ServiceRule {
  return serviceRuleFromTokens([rule.action, rule.protocol ?? 'all', String(rule.ports ?? 'all')]);
}
