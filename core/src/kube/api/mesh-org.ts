import type { CertificateVersion } from '../../index.js';
import type { Condition } from './condition.js';
import type { MeshguardApiVersion } from './group.js';
import type { ResourceMeta } from './resource-meta.js';

// Each list below is the `enum` of the same field in crds/meshorgs.meshguard.dev.yaml; a test
// compares them, so the CRD and the operator cannot drift apart.
export const CERTIFICATE_FORMATS = ['v1', 'v2'] as const;
export type CertificateFormat = (typeof CERTIFICATE_FORMATS)[number];

export const ENROLLMENT_POLICIES = ['AutoInCluster', 'Auto', 'Manual'] as const;
/**
 * AutoInCluster: MeshNodes of cluster Nodes are approved, external ones need spec.approved.
 * Auto: every MeshNode is approved. Manual: every MeshNode needs spec.approved.
 */
export type EnrollmentPolicy = (typeof ENROLLMENT_POLICIES)[number];

/** The CRD's schema defaults, for objects that have not been through the API server yet. */
export const MESH_ORG_DEFAULTS = {
  certificateFormat: 'v2',
  lifetime: '90d',
  enrollmentPolicy: 'AutoInCluster',
  keyOverlap: '7d',
} as const satisfies {
  certificateFormat: CertificateFormat;
  lifetime: string;
  enrollmentPolicy: EnrollmentPolicy;
  keyOverlap: string;
};

export function certificateVersion(format: CertificateFormat): CertificateVersion {
  return format === 'v1' ? 1 : 2;
}

export interface SecretReference {
  readonly name: string;
  readonly namespace: string;
}

export interface MeshOrgCertificateSpec {
  readonly format?: CertificateFormat;
  /** Duration text such as `90d` (see parseDuration in core); 1h to 10y. */
  readonly lifetime?: string;
}

export interface MeshOrgRotationSpec {
  /** Re-issue this long before expiry, at least 5m and less than the lifetime; unset: a third of it. */
  readonly renewBefore?: string;
  /** How long a replaced org key stays trusted beside the new one; 1h to 1y. */
  readonly keyOverlap?: string;
}

export interface MeshOrgSpec {
  readonly displayName?: string;
  /** DNS label of at most 32 characters (the OrgAliasAnnounce alias field). */
  readonly dnsAlias?: string;
  readonly certificate?: MeshOrgCertificateSpec;
  readonly enrollmentPolicy?: EnrollmentPolicy;
  /** Bring-your-own org key: a Secret with `org.key`. Absent: the operator generates the key. */
  readonly keySecretRef?: SecretReference;
  readonly rotation?: MeshOrgRotationSpec;
}

export interface RetiringOrgKey {
  readonly publicKey: string;
  readonly retireAt: string;
}

export interface MeshOrgStatus {
  readonly conditions?: readonly Condition[];
  /** Org public key, standard base64 (44 characters). */
  readonly publicKey?: string;
  /** First 8 characters of publicKey, only for the printer column. */
  readonly shortPublicKey?: string;
  /** `<6 hex>.mesh` (spec §3.3). */
  readonly meshDomain?: string;
  readonly nodes?: number;
  readonly readyNodes?: number;
  readonly pendingNodes?: number;
  readonly revokedNodes?: number;
  readonly retiringKeys?: readonly RetiringOrgKey[];
}

export interface MeshOrg {
  readonly apiVersion: MeshguardApiVersion;
  readonly kind: 'MeshOrg';
  readonly metadata: ResourceMeta;
  readonly spec: MeshOrgSpec;
  readonly status?: MeshOrgStatus;
}

/** Condition types a MeshOrg's status carries. */
export const MeshOrgCondition = {
  /** The org key exists (generated or loaded from keySecretRef) and is valid. */
  KeyAvailable: 'KeyAvailable',
  /** The key is available and the trust ConfigMap is published. */
  Ready: 'Ready',
} as const;
