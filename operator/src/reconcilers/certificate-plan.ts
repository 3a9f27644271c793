import {
  bytesEqual,
  certificateNodeName,
  checkCertificateSignatures,
  CERT_SLOT_BYTES,
  decodeNodeCertificate,
  encodeBase64,
  encodeNodeCertificate,
  issueCertificate,
  parseDuration,
  type CertificateVersion,
  type Ed25519KeyPair,
  type NodeCertificate,
} from '@meshguard/core';

/** What the certificate must say; any difference from the current one means re-signing. */
export interface CertificateInputs {
  readonly version: CertificateVersion;
  readonly nodePublicKey: Uint8Array;
  readonly nodeName: string;
  /** Required for v2. */
  readonly wgPublicKey?: Uint8Array;
  readonly lifetimeSeconds: number;
  readonly renewBeforeSeconds: number;
}

export interface CertificatePlan {
  readonly certificate: NodeCertificate;
  /** Standard base64 of the full 314-byte slot, as status.certificate holds it. */
  readonly encoded: string;
  /** False: the current certificate stays (nothing to write). */
  readonly issued: boolean;
  /** Unix seconds from which the certificate is due for renewal. */
  readonly renewAt: bigint;
}

const DEFAULT_LIFETIME = '90d';

/** Lifetime in seconds: the MeshNode's override, else the org's, else the CRD default. */
export function lifetimeSeconds(nodeLifetime: string | undefined, orgLifetime: string | undefined): number {
  return parseDuration(nodeLifetime ?? orgLifetime ?? DEFAULT_LIFETIME) ?? parseDuration(DEFAULT_LIFETIME) ?? 0;
}

/**
 * renewBefore, default a third of the lifetime. The CRD keeps the org's renewBefore below the
 * org's lifetime, but a MeshNode may shorten its own lifetime below it; then the default
 * applies, or every fresh certificate would be due at once, forever.
 */
export function renewBeforeSeconds(renewBefore: string | undefined, lifetime: number): number {
  const third = Math.floor(lifetime / 3);
  if (renewBefore === undefined) return third;
  const seconds = parseDuration(renewBefore);
  return seconds === null || seconds >= lifetime ? third : seconds;
}

function decodeSlot(encoded: string | undefined): NodeCertificate | undefined {
  if (encoded === undefined) return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.length !== CERT_SLOT_BYTES) return undefined;
  try {
    return decodeNodeCertificate(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

/** Whether `cert` is one we would issue now from these inputs, apart from its times. */
export function matchesInputs(cert: NodeCertificate, org: Uint8Array, inputs: CertificateInputs): boolean {
  return (
    cert.version === inputs.version &&
    cert.flags === 0 &&
    bytesEqual(cert.orgPublicKey, org) &&
    bytesEqual(cert.nodePublicKey, inputs.nodePublicKey) &&
    certificateNodeName(cert) === inputs.nodeName &&
    (inputs.version === 1 || (inputs.wgPublicKey !== undefined && bytesEqual(cert.wgPublicKey, inputs.wgPublicKey))) &&
    cert.expiresAt - cert.issuedAt === BigInt(inputs.lifetimeSeconds) &&
    checkCertificateSignatures(cert).ok
  );
}

/**
 * Keeps the current certificate while it matches the inputs and is not yet due for renewal;
 * otherwise signs a new one. Signing on every reconcile would change status on every pass and
 * hand agents a new certificate for nothing.
 */
export function planCertificate(
  org: Ed25519KeyPair,
  current: string | undefined,
  inputs: CertificateInputs,
  nowSeconds: bigint,
): CertificatePlan {
  const renewBefore = BigInt(inputs.renewBeforeSeconds);
  const existing = decodeSlot(current);
  if (
    existing !== undefined &&
    matchesInputs(existing, org.publicKey, inputs) &&
    nowSeconds < existing.expiresAt - renewBefore
  ) {
    return { certificate: existing, encoded: current ?? '', issued: false, renewAt: existing.expiresAt - renewBefore };
  }
  const expiresAt = nowSeconds + BigInt(inputs.lifetimeSeconds);
  const certificate = issueCertificate(org, {
    nodePublicKey: inputs.nodePublicKey,
    nodeName: inputs.nodeName,
    issuedAt: nowSeconds,
    expiresAt,
    ...(inputs.version === 2 && inputs.wgPublicKey !== undefined && { wgPublicKey: inputs.wgPublicKey }),
  });
  return {
    certificate,
    encoded: encodeBase64(encodeNodeCertificate(certificate)),
    issued: true,
    renewAt: expiresAt - renewBefore,
  };
}
