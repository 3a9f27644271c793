import {
  isValidPublicKey,
  PUBLIC_KEY_BYTES,
  sign,
  SIGNATURE_BYTES,
  verify,
  type Ed25519KeyPair,
} from '../crypto/ed25519.js';
import { concatBytes, copyBytes, readU64LE, stripTrailingNuls, writeU64LE } from '../encoding/bytes.js';
import { toHex } from '../encoding/hex.js';
import { ArgumentError, DecodeError } from '../errors.js';

/** Top-level datagram tags of the three org control messages (spec §5). */
export const TAG_ORG_ALIAS = 0x41;
export const TAG_ORG_REVOKE = 0x42;
export const TAG_ORG_VOUCH = 0x43;

export const ORG_ALIAS_BYTES = 137;
export const ORG_REVOKE_BYTES = 138;
export const ORG_VOUCH_BYTES = 137;
/** vouched/*.vouch holds the vouch without its type byte. */
export const VOUCH_FILE_BYTES = 136;
export const ALIAS_BYTES = 32;

export const RevocationReason = {
  unspecified: 0,
  keyCompromised: 1,
  adminRemoved: 2,
} as const;
export type RevocationReasonName = keyof typeof RevocationReason;

export function revocationReasonName(reason: number): string {
  switch (reason) {
    case 0:
      return 'unspecified';
    case 1:
      return 'key-compromised';
    case 2:
      return 'admin-removed';
    default:
      return `unknown(${reason})`;
  }
}

export interface OrgAliasAnnounce {
  readonly kind: 'alias';
  readonly orgPublicKey: Uint8Array;
  /** 32-byte NUL-padded field. */
  readonly alias: Uint8Array;
  readonly lamport: bigint;
  readonly signature: Uint8Array;
}

export interface OrgCertRevoke {
  readonly kind: 'revoke';
  readonly orgPublicKey: Uint8Array;
  /** A node, or a delegated issuer. */
  readonly nodePublicKey: Uint8Array;
  readonly reason: number;
  readonly lamport: bigint;
  readonly signature: Uint8Array;
}

export interface OrgTrustVouch {
  readonly kind: 'vouch';
  readonly orgPublicKey: Uint8Array;
  readonly vouchedPublicKey: Uint8Array;
  readonly lamport: bigint;
  readonly signature: Uint8Array;
}

export type OrgMessage = OrgAliasAnnounce | OrgCertRevoke | OrgTrustVouch;

// ---- signed payloads (no domain separation on the wire; see isAliasShaped) ----

function keyAndLamport(key: Uint8Array, lamport: bigint): Uint8Array {
  const out = new Uint8Array(40);
  out.set(key, 0);
  writeU64LE(out, 32, lamport);
  return out;
}

export function aliasSignedPayload(m: Pick<OrgAliasAnnounce, 'alias' | 'lamport'>): Uint8Array {
  return keyAndLamport(m.alias, m.lamport);
}

export function revokeSignedPayload(m: Pick<OrgCertRevoke, 'nodePublicKey' | 'reason' | 'lamport'>): Uint8Array {
  const out = new Uint8Array(41);
  out.set(m.nodePublicKey, 0);
  out[32] = m.reason;
  writeU64LE(out, 33, m.lamport);
  return out;
}

export function vouchSignedPayload(m: Pick<OrgTrustVouch, 'vouchedPublicKey' | 'lamport'>): Uint8Array {
  return keyAndLamport(m.vouchedPublicKey, m.lamport);
}

// ---- alias shape: our defence against vouch/alias signature confusion ----

const ALIAS_CHAR = /^[a-z0-9-]$/;

/**
 * An alias is a DNS label (a-z, 0-9, '-') padded with NULs. The reference accepts any bytes,
 * which lets a captured vouch signature (over `key ‖ lamport`) be replayed as an alias
 * (spec §16). Requiring this shape for aliases, and refusing vouches whose key has it, makes
 * each 40-byte signature usable in only one role; a random key has this shape with
 * probability below 2⁻⁶⁰, so honest messages are unaffected.
 */
export function isAliasShaped(field: Uint8Array): boolean {
  const name = stripTrailingNuls(field);
  if (name.length === 0 || name[0] === 0x2d || name[name.length - 1] === 0x2d) return false;
  for (const byte of name) {
    if (!ALIAS_CHAR.test(String.fromCharCode(byte))) return false;
  }
  return true;
}

export function aliasText(m: OrgAliasAnnounce): string {
  return Buffer.from(stripTrailingNuls(m.alias)).toString('latin1');
}

// ---- encoding ----

export function encodeOrgMessage(m: OrgMessage): Uint8Array {
  switch (m.kind) {
    case 'alias':
      return concatBytes(Uint8Array.of(TAG_ORG_ALIAS), m.orgPublicKey, aliasSignedPayload(m), m.signature);
    case 'revoke':
      return concatBytes(Uint8Array.of(TAG_ORG_REVOKE), m.orgPublicKey, revokeSignedPayload(m), m.signature);
    case 'vouch':
      return concatBytes(Uint8Array.of(TAG_ORG_VOUCH), m.orgPublicKey, vouchSignedPayload(m), m.signature);
  }
}

function need(bytes: Uint8Array, length: number, what: string): void {
  if (bytes.length < length) throw new DecodeError(`${what}: need ${length} bytes, got ${bytes.length}`);
}

const slice = (b: Uint8Array, at: number, len: number): Uint8Array => copyBytes(b, at, at + len);

/** Decodes 0x41/0x42/0x43; trailing bytes are ignored as in the reference (spec §5.1). */
export function decodeOrgMessage(bytes: Uint8Array): OrgMessage {
  need(bytes, 1, 'org message');
  switch (bytes[0]) {
    case TAG_ORG_ALIAS:
      need(bytes, ORG_ALIAS_BYTES, 'OrgAliasAnnounce');
      return {
        kind: 'alias',
        orgPublicKey: slice(bytes, 1, 32),
        alias: slice(bytes, 33, ALIAS_BYTES),
        lamport: readU64LE(bytes, 65),
        signature: slice(bytes, 73, SIGNATURE_BYTES),
      };
    case TAG_ORG_REVOKE:
      need(bytes, ORG_REVOKE_BYTES, 'OrgCertRevoke');
      return {
        kind: 'revoke',
        orgPublicKey: slice(bytes, 1, 32),
        nodePublicKey: slice(bytes, 33, 32),
        reason: bytes[65]!,
        lamport: readU64LE(bytes, 66),
        signature: slice(bytes, 74, SIGNATURE_BYTES),
      };
    case TAG_ORG_VOUCH:
      need(bytes, ORG_VOUCH_BYTES, 'OrgTrustVouch');
      return decodeVouchBody(bytes.subarray(1));
    default:
      throw new DecodeError(`org message: unknown tag 0x${bytes[0]!.toString(16).padStart(2, '0')}`);
  }
}

function decodeVouchBody(body: Uint8Array): OrgTrustVouch {
  return {
    kind: 'vouch',
    orgPublicKey: slice(body, 0, 32),
    vouchedPublicKey: slice(body, 32, 32),
    lamport: readU64LE(body, 64),
    signature: slice(body, 72, SIGNATURE_BYTES),
  };
}

/** vouched/*.vouch: exactly 136 bytes, the 0x43 message without its tag (spec §1.9). */
export function decodeVouchFile(bytes: Uint8Array): OrgTrustVouch {
  if (bytes.length !== VOUCH_FILE_BYTES) {
    throw new DecodeError(`vouch file: expected ${VOUCH_FILE_BYTES} bytes, got ${bytes.length}`);
  }
  return decodeVouchBody(bytes);
}

export function encodeVouchFile(m: OrgTrustVouch): Uint8Array {
  return encodeOrgMessage(m).subarray(1);
}

/** revoked/*.revoke: exactly the 138-byte wire message (spec §1.8). */
export function decodeRevocationFile(bytes: Uint8Array): OrgCertRevoke {
  if (bytes.length !== ORG_REVOKE_BYTES) {
    throw new DecodeError(`revocation file: expected ${ORG_REVOKE_BYTES} bytes, got ${bytes.length}`);
  }
  const m = decodeOrgMessage(bytes);
  if (m.kind !== 'revoke') throw new DecodeError('revocation file: not an OrgCertRevoke (0x42)');
  return m;
}

// ---- signing and verification ----

export function signOrgAlias(org: Ed25519KeyPair, alias: string, lamport: bigint): OrgAliasAnnounce {
  const field = new Uint8Array(ALIAS_BYTES);
  const text = Buffer.from(alias, 'latin1');
  if (text.length > ALIAS_BYTES) throw new ArgumentError(`alias longer than ${ALIAS_BYTES} bytes`);
  field.set(text);
  if (!isAliasShaped(field)) throw new ArgumentError(`alias "${alias}" is not a DNS label`);
  const unsigned = { alias: field, lamport };
  return {
    kind: 'alias',
    orgPublicKey: org.publicKey,
    ...unsigned,
    signature: sign(aliasSignedPayload(unsigned), org.seed),
  };
}

export function signOrgRevoke(org: Ed25519KeyPair, node: Uint8Array, reason: number, lamport: bigint): OrgCertRevoke {
  if (node.length !== PUBLIC_KEY_BYTES) throw new ArgumentError('revoked key must be 32 bytes');
  if (!Number.isInteger(reason) || reason < 0 || reason > 255) throw new ArgumentError('reason must be 0-255');
  const unsigned = { nodePublicKey: Uint8Array.from(node), reason, lamport };
  return {
    kind: 'revoke',
    orgPublicKey: org.publicKey,
    ...unsigned,
    signature: sign(revokeSignedPayload(unsigned), org.seed),
  };
}

export function signOrgVouch(org: Ed25519KeyPair, vouched: Uint8Array, lamport: bigint): OrgTrustVouch {
  if (!isValidPublicKey(vouched) || isAliasShaped(vouched))
    throw new ArgumentError('vouched key is not a valid public key');
  const unsigned = { vouchedPublicKey: Uint8Array.from(vouched), lamport };
  return {
    kind: 'vouch',
    orgPublicKey: org.publicKey,
    ...unsigned,
    signature: sign(vouchSignedPayload(unsigned), org.seed),
  };
}

/**
 * Signature over the canonical payload with the message's own org key, plus the shape rules
 * that keep alias and vouch signatures apart. Whether that org is trusted is the caller's
 * (trust set's) decision.
 */
export function verifyOrgMessage(m: OrgMessage): boolean {
  switch (m.kind) {
    case 'alias':
      return isAliasShaped(m.alias) && verify(m.signature, aliasSignedPayload(m), m.orgPublicKey);
    case 'revoke':
      return verify(m.signature, revokeSignedPayload(m), m.orgPublicKey);
    case 'vouch':
      return (
        isValidPublicKey(m.vouchedPublicKey) &&
        !isAliasShaped(m.vouchedPublicKey) &&
        verify(m.signature, vouchSignedPayload(m), m.orgPublicKey)
      );
  }
}

/** `<hex of the first 8 key bytes>.revoke` / `.vouch` (spec §1.8–1.9). */
export function orgMessageFileStem(key: Uint8Array): string {
  return toHex(key.subarray(0, 8));
}
