import { assertLength, copyBytes, DecodeError } from '@meshguard/core';
import { decodeEndpoint, encodeEndpoint, ENDPOINT_BYTES, type Endpoint } from '../swim/endpoint-codec.js';

/** Hole-punch coordination messages and the punch probe (spec §8.1–8.3). */
export const TAG_HOLEPUNCH_REQUEST = 0x33;
export const TAG_HOLEPUNCH_RESPONSE = 0x34;
export const HOLEPUNCH_REQUEST_BYTES = 101;
export const HOLEPUNCH_RESPONSE_BYTES = 69;
export const HOLEPUNCH_PROBE_BYTES = 20;
export const HOLEPUNCH_TOKEN_BYTES = 16;

/** "MGHP" */
const PROBE_MAGIC = Uint8Array.of(0x4d, 0x47, 0x48, 0x50);

export interface HolepunchRequest {
  readonly kind: 'holepunch-request';
  readonly senderPublicKey: Uint8Array;
  readonly targetPublicKey: Uint8Array;
  /** The initiator's STUN-derived address; the wire field must be present. */
  readonly publicEndpoint: Endpoint;
  readonly token: Uint8Array;
}

export interface HolepunchResponse {
  readonly kind: 'holepunch-response';
  readonly senderPublicKey: Uint8Array;
  readonly publicEndpoint: Endpoint;
  /** Echo of the request's token. */
  readonly token: Uint8Array;
}

export function encodeHolepunchRequest(m: Omit<HolepunchRequest, 'kind'>): Uint8Array {
  const out = new Uint8Array(HOLEPUNCH_REQUEST_BYTES);
  out[0] = TAG_HOLEPUNCH_REQUEST;
  out.set(assertLength(m.senderPublicKey, 32, 'sender public key'), 1);
  out.set(assertLength(m.targetPublicKey, 32, 'target public key'), 33);
  out.set(encodeEndpoint(m.publicEndpoint), 65);
  out.set(assertLength(m.token, HOLEPUNCH_TOKEN_BYTES, 'punch token'), 85);
  return out;
}

export function encodeHolepunchResponse(m: Omit<HolepunchResponse, 'kind'>): Uint8Array {
  const out = new Uint8Array(HOLEPUNCH_RESPONSE_BYTES);
  out[0] = TAG_HOLEPUNCH_RESPONSE;
  out.set(assertLength(m.senderPublicKey, 32, 'sender public key'), 1);
  out.set(encodeEndpoint(m.publicEndpoint), 33);
  out.set(assertLength(m.token, HOLEPUNCH_TOKEN_BYTES, 'punch token'), 53);
  return out;
}

function header(bytes: Uint8Array, tag: number, length: number, what: string): void {
  if (bytes.length < length) throw new DecodeError(`${what}: need at least ${length} bytes, got ${bytes.length}`);
  if (bytes[0] !== tag) throw new DecodeError(`${what}: wrong tag 0x${bytes[0]!.toString(16).padStart(2, '0')}`);
}

function presentEndpoint(bytes: Uint8Array, offset: number, what: string): Endpoint {
  const endpoint = decodeEndpoint(bytes.subarray(offset, offset + ENDPOINT_BYTES));
  if (endpoint === null) throw new DecodeError(`${what}: public endpoint absent`);
  return endpoint;
}

/** Trailing bytes are ignored, as for every other message of the shared codec. */
export function decodeHolepunchRequest(bytes: Uint8Array): HolepunchRequest {
  header(bytes, TAG_HOLEPUNCH_REQUEST, HOLEPUNCH_REQUEST_BYTES, 'holepunch request');
  return {
    kind: 'holepunch-request',
    senderPublicKey: copyBytes(bytes, 1, 33),
    targetPublicKey: copyBytes(bytes, 33, 65),
    publicEndpoint: presentEndpoint(bytes, 65, 'holepunch request'),
    token: copyBytes(bytes, 85, 101),
  };
}

export function decodeHolepunchResponse(bytes: Uint8Array): HolepunchResponse {
  header(bytes, TAG_HOLEPUNCH_RESPONSE, HOLEPUNCH_RESPONSE_BYTES, 'holepunch response');
  return {
    kind: 'holepunch-response',
    senderPublicKey: copyBytes(bytes, 1, 33),
    publicEndpoint: presentEndpoint(bytes, 33, 'holepunch response'),
    token: copyBytes(bytes, 53, 69),
  };
}

export function encodeHolepunchProbe(token: Uint8Array): Uint8Array {
  const out = new Uint8Array(HOLEPUNCH_PROBE_BYTES);
  out.set(PROBE_MAGIC, 0);
  out.set(assertLength(token, HOLEPUNCH_TOKEN_BYTES, 'punch token'), 4);
  return out;
}

/** The probe's token. Exactly 20 bytes: anything longer or shorter is some other datagram. */
export function decodeHolepunchProbe(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== HOLEPUNCH_PROBE_BYTES) {
    throw new DecodeError(`holepunch probe: expected ${HOLEPUNCH_PROBE_BYTES} bytes, got ${bytes.length}`);
  }
  for (let i = 0; i < PROBE_MAGIC.length; i++) {
    if (bytes[i] !== PROBE_MAGIC[i]) throw new DecodeError('holepunch probe: missing "MGHP" magic');
  }
  return copyBytes(bytes, 4);
}
