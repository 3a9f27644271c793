import {
  ArgumentError,
  assertValidNodeName,
  assertValidWireGuardPublicKey,
  decodeBase64Exact,
  DecodeError,
  InvalidKeyError,
  parseDuration,
  PUBLIC_KEY_BYTES,
  publicKeyProblem,
} from '../../index.js';
import { CelMessage, DepthMessage } from './rule-messages.js';

/**
 * The value rules shared by both kinds. Each returns the problem (in the CRD's words where the
 * CRD has the same rule) or null. The first checks match the CEL rules one for one; the ones
 * after them (curve membership, small-order points, overflow) are what CEL cannot express.
 */

export const MAX_DNS_LABEL = 63;
export const MAX_DNS_SUBDOMAIN = 253;
/** 32 bytes in padded base64. */
export const KEY_TEXT_LENGTH = 44;
export const MAX_DURATION_TEXT = 24;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// The last character of 32 bytes in base64 holds 2 key bits and 4 zero bits.
const KEY_TEXT = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
// Stricter than core's parseDuration on purpose: the CRD must bound each part to keep CEL's
// int() from overflowing, and the operator must accept exactly what the API server accepts.
const DURATION_TEXT = /^([0-9]{1,6}[smhdwy]){1,6}$/;

export function isDnsLabel(text: string, maxLength = MAX_DNS_LABEL): boolean {
  return text.length <= maxLength && DNS_LABEL.test(text);
}

export function isDnsSubdomain(text: string): boolean {
  return text.length <= MAX_DNS_SUBDOMAIN && DNS_SUBDOMAIN.test(text);
}

/** A certificate node name: core's rule (spec §3.3/§4.1), the CRD's message. */
export function nodeNameProblem(text: string): string | null {
  try {
    assertValidNodeName(text);
    return null;
  } catch (err) {
    if (err instanceof ArgumentError) return CelMessage.dnsLabel32;
    throw err;
  }
}

function keyTextProblem(text: string): string | null {
  if (text.length !== KEY_TEXT_LENGTH) return CelMessage.keyLength;
  if (!KEY_TEXT.test(text)) return CelMessage.keyAlphabet;
  return null;
}

function keyBytes(text: string): Uint8Array | string {
  const problem = keyTextProblem(text);
  if (problem !== null) return problem;
  try {
    return decodeBase64Exact(text, PUBLIC_KEY_BYTES, 'key');
  } catch (err) {
    // Unreachable after KEY_TEXT, kept so that a looser pattern can never let a key through.
    if (err instanceof DecodeError) return CelMessage.keyAlphabet;
    throw err;
  }
}

/** An Ed25519 identity or org key: 44 base64 characters, and a usable point (core's rules). */
export function identityKeyProblem(text: string): string | null {
  const bytes = keyBytes(text);
  if (typeof bytes === 'string') return bytes;
  const problem = publicKeyProblem(bytes);
  return problem === null ? null : DepthMessage.identityKey(problem);
}

/** An X25519 tunnel key: 44 base64 characters, not zero, not a small-order point. */
export function wireguardKeyProblem(text: string): string | null {
  const bytes = keyBytes(text);
  if (typeof bytes === 'string') return bytes;
  try {
    assertValidWireGuardPublicKey(bytes, 'this key');
    return null;
  } catch (err) {
    if (err instanceof InvalidKeyError) return DepthMessage.wireguardKey(err.message);
    throw err;
  }
}

export interface DurationBounds {
  readonly minSeconds: number;
  readonly maxSeconds: number;
  readonly message: string;
}

// The numbers are those in the CRDs' CEL rules.
export const LIFETIME_BOUNDS: DurationBounds = {
  minSeconds: 3600,
  maxSeconds: 315_360_000,
  message: CelMessage.lifetimeBounds,
};
export const RENEW_BEFORE_BOUNDS: DurationBounds = {
  minSeconds: 300,
  maxSeconds: Number.POSITIVE_INFINITY,
  message: CelMessage.renewBeforeBounds,
};
export const KEY_OVERLAP_BOUNDS: DurationBounds = {
  minSeconds: 3600,
  maxSeconds: 31_536_000,
  message: CelMessage.keyOverlapBounds,
};

/** Seconds of a duration in the CRD's syntax, or null if the text is not one. */
export function durationSeconds(text: string): number | null {
  if (!DURATION_TEXT.test(text)) return null;
  try {
    return parseDuration(text);
  } catch (err) {
    if (!(err instanceof ArgumentError)) throw err;
    // Core refuses zero and more than ten thousand years; CEL just sums, so map them onto the
    // sums CEL compares (both fall outside every bound except renewBefore's open upper end).
    return /[1-9]/.test(text) ? Number.POSITIVE_INFINITY : 0;
  }
}

export function durationProblem(text: string, bounds: DurationBounds): string | null {
  const seconds = durationSeconds(text);
  if (seconds === null) return CelMessage.durationSyntax;
  return seconds >= bounds.minSeconds && seconds <= bounds.maxSeconds ? null : bounds.message;
}
