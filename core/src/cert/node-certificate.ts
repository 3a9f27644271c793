import { isAllZero, readI64LE, stripTrailingNuls, writeI64LE } from '../encoding/bytes.js';
import { DecodeError } from '../errors.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from '../crypto/ed25519.js';

/** Byte layout of the 314-byte certificate slot (spec §4.1). */
export const CERT_V1_BYTES = 186;
export const CERT_SLOT_BYTES = 314;
export const NODE_NAME_BYTES = 32;
export const FLAG_DELEGATED = 0x01;

const OFF_VERSION = 0;
const OFF_ORG = 1;
const OFF_NODE = 33;
const OFF_NAME = 65;
const OFF_ISSUED = 97;
const OFF_EXPIRES = 105;
const OFF_FLAGS = 113;
const OFF_SIGNATURE = 114;
const OFF_WG = 186;
const OFF_ISSUER = 218;
const OFF_DELEGATION_SIG = 250;

/** Signed payload lengths: P_v1, P_v2 and the delegation grant G (spec §4.2). */
export const PAYLOAD_V1_BYTES = 114;
export const PAYLOAD_V2_BYTES = 178;
export const GRANT_BYTES = 74;

export type CertificateVersion = 1 | 2;

export interface NodeCertificate {
  readonly version: CertificateVersion;
  readonly orgPublicKey: Uint8Array;
  readonly nodePublicKey: Uint8Array;
  /** The raw 32-byte NUL-padded field; see `certificateNodeName`. */
  readonly nodeName: Uint8Array;
  /** Unix seconds, signed 64-bit. */
  readonly issuedAt: bigint;
  /** Unix seconds, signed 64-bit; 0 means it never expires. */
  readonly expiresAt: bigint;
  readonly flags: number;
  readonly signature: Uint8Array;
  /** v2 only (zero-filled for v1). */
  readonly wgPublicKey: Uint8Array;
  /** v2 only; all zero unless delegated. */
  readonly issuerPublicKey: Uint8Array;
  /** v2 only; the org's signature over the grant, all zero unless delegated. */
  readonly delegationSignature: Uint8Array;
}

export function isDelegated(cert: NodeCertificate): boolean {
  return cert.version === 2 && (cert.flags & FLAG_DELEGATED) !== 0;
}

export function certificateNodeName(cert: NodeCertificate): string {
  return Buffer.from(stripTrailingNuls(cert.nodeName)).toString('latin1');
}

/** Always the full 314-byte slot, as the reference writes files and Ping/Ack extensions. */
export function encodeNodeCertificate(cert: NodeCertificate): Uint8Array {
  const out = new Uint8Array(CERT_SLOT_BYTES);
  // The signed payload is contiguous (P_v1 ‖ wg ‖ issuer) but the slot is not: the
  // signature and padding sit between the v1 fields and the v2 keys.
  const payload = signedPayload(cert);
  out.set(payload.subarray(0, PAYLOAD_V1_BYTES), 0);
  out.set(cert.signature, OFF_SIGNATURE);
  if (cert.version === 2) {
    out.set(cert.wgPublicKey, OFF_WG);
    out.set(cert.issuerPublicKey, OFF_ISSUER);
    out.set(cert.delegationSignature, OFF_DELEGATION_SIG);
  }
  return out;
}

/**
 * Accepts 186..314 bytes (a v1-sized extension, a full slot, or anything between — the tail
 * is zero-filled exactly as the reference does). Longer input is refused rather than
 * silently truncated, so the caller notices trailing junk.
 */
export function decodeNodeCertificate(bytes: Uint8Array): NodeCertificate {
  if (bytes.length < CERT_V1_BYTES) {
    throw new DecodeError(`certificate: need at least ${CERT_V1_BYTES} bytes, got ${bytes.length}`);
  }
  if (bytes.length > CERT_SLOT_BYTES) {
    throw new DecodeError(`certificate: at most ${CERT_SLOT_BYTES} bytes, got ${bytes.length}`);
  }
  const slot = new Uint8Array(CERT_SLOT_BYTES);
  slot.set(bytes);
  const version = slot[OFF_VERSION];
  if (version !== 1 && version !== 2) {
    throw new DecodeError(`certificate: unsupported version ${String(version)}`);
  }
  const field = (offset: number, length: number): Uint8Array => slot.slice(offset, offset + length);
  const v2 = version === 2;
  return {
    version,
    orgPublicKey: field(OFF_ORG, PUBLIC_KEY_BYTES),
    nodePublicKey: field(OFF_NODE, PUBLIC_KEY_BYTES),
    nodeName: field(OFF_NAME, NODE_NAME_BYTES),
    issuedAt: readI64LE(slot, OFF_ISSUED),
    expiresAt: readI64LE(slot, OFF_EXPIRES),
    flags: slot[OFF_FLAGS]!,
    signature: field(OFF_SIGNATURE, SIGNATURE_BYTES),
    // v1 ignores the tail entirely, so a v1 cert decodes the same whatever follows byte 186.
    wgPublicKey: v2 ? field(OFF_WG, PUBLIC_KEY_BYTES) : new Uint8Array(PUBLIC_KEY_BYTES),
    issuerPublicKey: v2 ? field(OFF_ISSUER, PUBLIC_KEY_BYTES) : new Uint8Array(PUBLIC_KEY_BYTES),
    delegationSignature: v2 ? field(OFF_DELEGATION_SIG, SIGNATURE_BYTES) : new Uint8Array(SIGNATURE_BYTES),
  };
}

export type UnsignedCertificate = Omit<NodeCertificate, 'signature' | 'delegationSignature'>;

/** P_v1 (114 bytes) for version 1, P_v2 (178 bytes) for version 2. */
export function signedPayload(cert: UnsignedCertificate): Uint8Array {
  const payload = new Uint8Array(cert.version === 1 ? PAYLOAD_V1_BYTES : PAYLOAD_V2_BYTES);
  payload[OFF_VERSION] = cert.version;
  payload.set(cert.orgPublicKey, OFF_ORG);
  payload.set(cert.nodePublicKey, OFF_NODE);
  payload.set(cert.nodeName, OFF_NAME);
  writeI64LE(payload, OFF_ISSUED, cert.issuedAt);
  writeI64LE(payload, OFF_EXPIRES, cert.expiresAt);
  payload[OFF_FLAGS] = cert.flags;
  if (cert.version === 2) {
    payload.set(cert.wgPublicKey, PAYLOAD_V1_BYTES);
    payload.set(cert.issuerPublicKey, PAYLOAD_V1_BYTES + PUBLIC_KEY_BYTES);
  }
  return payload;
}

/** G = version(2) ‖ org ‖ issuer ‖ I64LE expires_at ‖ flags — the org's grant to a delegated issuer. */
export function grantPayload(cert: UnsignedCertificate): Uint8Array {
  const g = new Uint8Array(GRANT_BYTES);
  g[0] = 2;
  g.set(cert.orgPublicKey, 1);
  g.set(cert.issuerPublicKey, 33);
  writeI64LE(g, 65, cert.expiresAt);
  g[73] = cert.flags;
  return g;
}

export function hasWireGuardKey(cert: NodeCertificate): boolean {
  return cert.version === 2 && !isAllZero(cert.wgPublicKey);
}
