import { CelMessage } from '@meshguard/core/kube';
import { clusterNode, externalNode, meshNode, meshOrg, NODE_KEY, WIREGUARD_KEY, type Json } from './fixtures.js';

/**
 * Objects the CRDs refuse, each with exactly one fault (the API server skips CEL rules once a
 * schema rule has failed, so two faults could hide one). The unit tests run them through
 * validateMeshOrg / validateMeshNode and the cluster test through the API server: both must
 * refuse them at `path` with `message`.
 */
export interface InvalidCase {
  readonly title: string;
  readonly kind: 'MeshOrg' | 'MeshNode';
  /** Created first (and valid): the case is an update of it. */
  readonly previous?: Json;
  readonly object: Json;
  readonly path: string;
  /** Where the API server reports it when that differs (rules on the root object have no field). */
  readonly apiPath?: string;
  readonly message: string;
}

const supported = (...values: string[]): string => `supported values: ${values.map((v) => `"${v}"`).join(', ')}`;

export const INVALID_CASES: readonly InvalidCase[] = [
  // Keys
  {
    title: 'identity key one character short',
    kind: 'MeshNode',
    object: externalNode('short-key', { publicKey: NODE_KEY.slice(0, 43) }),
    path: 'spec.publicKey',
    message: CelMessage.keyLength,
  },
  {
    title: 'identity key one character long',
    kind: 'MeshNode',
    object: externalNode('long-key', { publicKey: `${NODE_KEY}A` }),
    path: 'spec.publicKey',
    message: 'Too long: may not be more than 44 bytes',
  },
  {
    title: 'identity key in the URL-safe alphabet',
    kind: 'MeshNode',
    object: externalNode('urlsafe-key', { publicKey: 'ab-_'.repeat(10) + 'abc=' }),
    path: 'spec.publicKey',
    message: CelMessage.keyAlphabet,
  },
  {
    title: 'identity key with non-zero padding bits',
    kind: 'MeshNode',
    object: externalNode('padding-bits', { publicKey: `${NODE_KEY.slice(0, 42)}B=` }),
    path: 'spec.publicKey',
    message: CelMessage.keyAlphabet,
  },
  {
    title: 'WireGuard key without padding',
    kind: 'MeshNode',
    object: clusterNode('wg-unpadded', { wireguardPublicKey: WIREGUARD_KEY.slice(0, 43) }),
    path: 'spec.wireguardPublicKey',
    message: CelMessage.keyLength,
  },
  // Names
  {
    title: 'node object name longer than 32 characters without spec.dnsName',
    kind: 'MeshNode',
    object: externalNode('a-node-name-that-is-33-characters'),
    path: 'metadata.name',
    // A rule on the whole object may not name a metadata field (fieldPath is refused there).
    apiPath: '<nil>',
    message: CelMessage.nodeObjectName,
  },
  {
    title: 'dnsName with an upper-case letter',
    kind: 'MeshNode',
    object: externalNode('upper-dns', { dnsName: 'Db-1' }),
    path: 'spec.dnsName',
    message: CelMessage.dnsLabel32,
  },
  {
    title: 'dnsName with a dot',
    kind: 'MeshNode',
    object: externalNode('dotted-dns', { dnsName: 'db.1' }),
    path: 'spec.dnsName',
    message: CelMessage.dnsLabel32,
  },
  {
    title: 'org reference that is no DNS label',
    kind: 'MeshNode',
    object: externalNode('bad-org-ref', { org: 'Acme_Corp' }),
    path: 'spec.org',
    message: CelMessage.orgReference,
  },
  {
    title: 'nodeName that is no Node name',
    kind: 'MeshNode',
    object: clusterNode('bad-node-ref', { nodeName: 'worker_1' }),
    path: 'spec.nodeName',
    message: CelMessage.nodeReference,
  },
  {
    title: 'org name with a dot',
    kind: 'MeshOrg',
    object: meshOrg('acme.example'),
    path: 'metadata.name',
    message: CelMessage.orgName,
  },
  {
    title: 'org alias longer than the 32-byte alias field',
    kind: 'MeshOrg',
    object: meshOrg('long-alias', { dnsAlias: 'a'.repeat(33) }),
    path: 'spec.dnsAlias',
    message: 'Too long: may not be more than 32 bytes',
  },
  {
    title: 'key Secret namespace with a dot',
    kind: 'MeshOrg',
    object: meshOrg('byok', { keySecretRef: { name: 'org-key', namespace: 'meshguard.system' } }),
    path: 'spec.keySecretRef.namespace',
    message: CelMessage.secretNamespace,
  },
  // Node placement
  {
    title: 'both nodeName and external',
    kind: 'MeshNode',
    object: clusterNode('both', { external: true }),
    path: 'spec',
    message: CelMessage.nodeNameOrExternal,
  },
  {
    title: 'neither nodeName nor external',
    kind: 'MeshNode',
    object: meshNode('neither', { org: 'acme', publicKey: NODE_KEY }),
    path: 'spec',
    message: CelMessage.nodeNameOrExternal,
  },
  // Revocation
  {
    title: 'revocation reason without revoked',
    kind: 'MeshNode',
    object: externalNode('reason-only', { revocationReason: 'key-compromised' }),
    path: 'spec.revocationReason',
    message: CelMessage.reasonWithoutRevoked,
  },
  {
    title: 'unknown revocation reason',
    kind: 'MeshNode',
    object: externalNode('bad-reason', { revoked: true, revocationReason: 'stolen' }),
    path: 'spec.revocationReason',
    message: supported('admin-removed', 'key-compromised', 'unspecified'),
  },
  // Enumerations
  {
    title: 'unknown certificate format',
    kind: 'MeshOrg',
    object: meshOrg('v3', { certificate: { format: 'v3' } }),
    path: 'spec.certificate.format',
    message: supported('v1', 'v2'),
  },
  {
    title: 'unknown enrollment policy',
    kind: 'MeshOrg',
    object: meshOrg('maybe', { enrollmentPolicy: 'Sometimes' }),
    path: 'spec.enrollmentPolicy',
    message: supported('AutoInCluster', 'Auto', 'Manual'),
  },
  {
    title: 'unknown service protocol',
    kind: 'MeshNode',
    object: externalNode('icmp', { servicePolicy: { rules: [{ action: 'allow', protocol: 'icmp' }] } }),
    path: 'spec.servicePolicy.rules[0].protocol',
    message: supported('tcp', 'udp', 'all'),
  },
  // Durations
  {
    title: 'lifetime in an unknown unit',
    kind: 'MeshOrg',
    object: meshOrg('fortnight', { certificate: { lifetime: '1fortnight' } }),
    path: 'spec.certificate.lifetime',
    message: CelMessage.durationSyntax,
  },
  {
    title: 'lifetime "never"',
    kind: 'MeshNode',
    object: externalNode('forever', { lifetime: 'never' }),
    path: 'spec.lifetime',
    message: CelMessage.durationSyntax,
  },
  {
    title: 'lifetime below 1h',
    kind: 'MeshNode',
    object: externalNode('brief', { lifetime: '59m59s' }),
    path: 'spec.lifetime',
    message: CelMessage.lifetimeBounds,
  },
  {
    title: 'lifetime above 10y',
    kind: 'MeshOrg',
    object: meshOrg('ages', { certificate: { lifetime: '10y1s' } }),
    path: 'spec.certificate.lifetime',
    message: CelMessage.lifetimeBounds,
  },
  {
    title: 'renewBefore not shorter than the lifetime',
    kind: 'MeshOrg',
    object: meshOrg('late-renewal', { certificate: { lifetime: '12h' }, rotation: { renewBefore: '720m' } }),
    path: 'spec.rotation.renewBefore',
    message: CelMessage.renewBeforeLifetime,
  },
  {
    title: 'renewBefore longer than the default lifetime (90d) of an org that sets none',
    kind: 'MeshOrg',
    object: meshOrg('renew-vs-default', { rotation: { renewBefore: '91d' } }),
    path: 'spec.rotation.renewBefore',
    message: CelMessage.renewBeforeLifetime,
  },
  {
    title: 'keyOverlap above 1y',
    kind: 'MeshOrg',
    object: meshOrg('long-overlap', { rotation: { keyOverlap: '53w' } }),
    path: 'spec.rotation.keyOverlap',
    message: CelMessage.keyOverlapBounds,
  },
  // Service policy
  {
    title: 'port above 65535',
    kind: 'MeshNode',
    object: externalNode('big-port', { servicePolicy: { rules: [{ action: 'allow', ports: 65536 }] } }),
    path: 'spec.servicePolicy.rules[0].ports',
    message: CelMessage.portsRange,
  },
  {
    title: 'port range upside down',
    kind: 'MeshNode',
    object: externalNode('down-range', {
      servicePolicy: {
        rules: [
          { action: 'allow', protocol: 'tcp', ports: '22' },
          { action: 'deny', ports: '9-1' },
        ],
      },
    }),
    path: 'spec.servicePolicy.rules[1].ports',
    message: CelMessage.portsOrder,
  },
  {
    title: 'ports that are not a number',
    kind: 'MeshNode',
    object: externalNode('ssh-port', { servicePolicy: { rules: [{ action: 'allow', ports: 'ssh' }] } }),
    path: 'spec.servicePolicy.rules[0].ports',
    message: CelMessage.portsSyntax,
  },
  // Transitions
  {
    title: 'changing spec.publicKey after creation',
    kind: 'MeshNode',
    previous: externalNode('rekeyed'),
    object: externalNode('rekeyed', { publicKey: NODE_KEY }),
    path: 'spec.publicKey',
    message: CelMessage.publicKeyImmutable,
  },
  {
    title: 'changing spec.org after creation',
    kind: 'MeshNode',
    previous: externalNode('moved'),
    object: externalNode('moved', { org: 'globex' }),
    path: 'spec.org',
    message: CelMessage.orgImmutable,
  },
  {
    title: 'turning a cluster MeshNode into an external one',
    kind: 'MeshNode',
    previous: clusterNode('escaped'),
    object: meshNode('escaped', { org: 'acme', publicKey: NODE_KEY, external: true }),
    path: 'spec.nodeName',
    message: CelMessage.nodeNameImmutable,
  },
  {
    title: 'un-revoking',
    kind: 'MeshNode',
    previous: externalNode('lazarus', { revoked: true }),
    object: externalNode('lazarus', { revoked: false }),
    path: 'spec.revoked',
    message: CelMessage.revokedPermanent,
  },
  {
    title: 'changing the reason of a revoked node',
    kind: 'MeshNode',
    previous: externalNode('reasoned', { revoked: true, revocationReason: 'admin-removed' }),
    object: externalNode('reasoned', { revoked: true, revocationReason: 'key-compromised' }),
    path: 'spec.revocationReason',
    message: CelMessage.reasonFixed,
  },
];
