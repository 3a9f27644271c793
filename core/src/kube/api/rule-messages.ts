/**
 * The messages of the CRDs' CEL rules, verbatim. validateMeshOrg / validateMeshNode report the
 * same words for the same rule, so an error reads alike whether the API server or the operator
 * found it; a test checks that each one appears in crds/*.yaml.
 */
export const CelMessage = {
  orgName: "must be a DNS label (lowercase a-z, 0-9 and '-', at most 63 characters)",
  nodeObjectName:
    'metadata.name must be a DNS label of at most 32 characters (it becomes the node name in the certificate), or set spec.dnsName',
  dnsLabel32: "must be a DNS label (lowercase a-z, 0-9 and '-', at most 32 characters)",
  orgReference: 'must be the name of a MeshOrg (a DNS label)',
  nodeReference: 'must be a Node name (a DNS subdomain)',
  secretName: 'must be a DNS subdomain (a Secret name)',
  secretNamespace: 'must be a DNS label (a namespace name)',
  keyLength: 'must be 44 characters (a 32-byte key in padded standard base64)',
  keyAlphabet: "must be standard base64 of 32 bytes (A-Z a-z 0-9 + /, ending in '=')",
  durationSyntax: 'must be a duration such as 90d, 12h, 1h30m or 1y (units s, m, h, d, w, y)',
  lifetimeBounds: 'must be between 1h and 10y',
  renewBeforeBounds: 'must be at least 5m',
  keyOverlapBounds: 'must be between 1h and 1y',
  renewBeforeLifetime: 'spec.rotation.renewBefore must be shorter than spec.certificate.lifetime',
  nodeNameOrExternal: 'set exactly one of spec.nodeName (a cluster Node) and spec.external=true',
  nodeNameImmutable: 'spec.nodeName and spec.external are immutable; create a new MeshNode instead',
  orgImmutable: 'spec.org is immutable; create a new MeshNode to enroll the node in another org',
  publicKeyImmutable: 'spec.publicKey is immutable; delete the MeshNode and create a new one for a new key',
  revokedPermanent: 'spec.revoked cannot be set back to false; enroll a new key in a new MeshNode instead',
  reasonWithoutRevoked: 'spec.revocationReason may only be set together with spec.revoked=true',
  reasonFixed: 'spec.revocationReason cannot change once the MeshNode is revoked',
  portsSyntax: 'must be all, a port N or a range N-M',
  portsRange: 'ports must be between 0 and 65535',
  portsOrder: 'a port range N-M needs N <= M',
} as const;

/** Checks CEL cannot make (or that need another object); only the operator reports these. */
export const DepthMessage = {
  identityKey: (problem: string): string => `must be a valid Ed25519 public key (this one ${problem})`,
  wireguardKey: (problem: string): string => `must be a valid X25519 public key (${problem})`,
  wireguardKeyForV2: 'Required value: the org issues v2 certificates, which bind the WireGuard key',
  serviceRule: (problem: string): string => `is not a valid service rule: ${problem}`,
} as const;
