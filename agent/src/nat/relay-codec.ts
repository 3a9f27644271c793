import { ArgumentError, assertLength, assertU16, copyBytes, DecodeError } from '@meshguard/core';
import { endpointAddressBytes, type Endpoint } from '../swim/endpoint-codec.js';

/** Relay data frame (spec §9.1). */
export const TAG_RELAY = 0x31;
export const RELAY_HEADER_BYTES = 67;
export const RELAY_MAX_PAYLOAD_BYTES = 2048;
/** Largest relay datagram, and the size of the reference's SWIM receive buffer. */
export const RELAY_MAX_FRAME_BYTES = RELAY_HEADER_BYTES + RELAY_MAX_PAYLOAD_BYTES;
/** identity ‖ family ‖ addr16 ‖ BE16 port ‖ challenge (spec §9.5). */
export const REGISTRATION_SIGNED_BYTES = 83;
export const REGISTRATION_CHALLENGE_BYTES = 32;

export interface RelayFrame {
  /** Claimed, unauthenticated (spec §16). */
  readonly senderPublicKey: Uint8Array;
  readonly targetPublicKey: Uint8Array;
  /** One WireGuard message (type 1-4), relayed without decryption. */
  readonly payload: Uint8Array;
}

/** The relay carries only WireGuard messages: LE32 type 1-4 at the start. */
function payloadProblem(payload: Uint8Array): string | null {
  if (payload.length > RELAY_MAX_PAYLOAD_BYTES) {
    return `payload of ${payload.length} bytes exceeds ${RELAY_MAX_PAYLOAD_BYTES}`;
  }
  if (payload.length < 4) return 'payload shorter than a WireGuard message type';
  const type = payload[0]!;
  if (type < 1 || type > 4 || payload[1] !== 0 || payload[2] !== 0 || payload[3] !== 0) {
    return 'payload is not a WireGuard message (type 1-4)';
  }
  return null;
}

export function encodeRelayFrame(frame: RelayFrame): Uint8Array {
  const problem = payloadProblem(frame.payload);
  if (problem !== null) throw new ArgumentError(`relay frame: ${problem}`);
  const out = new Uint8Array(RELAY_HEADER_BYTES + frame.payload.length);
  out[0] = TAG_RELAY;
  out.set(assertLength(frame.senderPublicKey, 32, 'sender public key'), 1);
  out.set(assertLength(frame.targetPublicKey, 32, 'target public key'), 33);
  out[65] = frame.payload.length >> 8;
  out[66] = frame.payload.length & 0xff;
  out.set(frame.payload, RELAY_HEADER_BYTES);
  return out;
}

/** Unlike the SWIM messages, the frame's length must match its header exactly. */
export function decodeRelayFrame(bytes: Uint8Array): RelayFrame {
  if (bytes.length < RELAY_HEADER_BYTES) {
    throw new DecodeError(`relay frame: need at least ${RELAY_HEADER_BYTES} bytes, got ${bytes.length}`);
  }
  if (bytes[0] !== TAG_RELAY) throw new DecodeError('relay frame: wrong tag');
  const length = (bytes[65]! << 8) | bytes[66]!;
  if (length > RELAY_MAX_PAYLOAD_BYTES) {
    throw new DecodeError(`relay frame: payload length ${length} exceeds ${RELAY_MAX_PAYLOAD_BYTES}`);
  }
  if (bytes.length !== RELAY_HEADER_BYTES + length) {
    throw new DecodeError(`relay frame: header says ${length} payload bytes, datagram carries ${bytes.length - 67}`);
  }
  const payload = copyBytes(bytes, RELAY_HEADER_BYTES);
  const problem = payloadProblem(payload);
  if (problem !== null) throw new DecodeError(`relay frame: ${problem}`);
  return { senderPublicKey: copyBytes(bytes, 1, 33), targetPublicKey: copyBytes(bytes, 33, 65), payload };
}

/**
 * The bytes a node would Ed25519-sign to register with a rendezvous (spec §9.5). No message
 * carries them in the reference; this exists so a future registration protocol starts from
 * the same layout (TV16).
 */
export function registrationSignedBytes(
  identityPublicKey: Uint8Array,
  endpoint: Endpoint,
  challenge: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(REGISTRATION_SIGNED_BYTES);
  out.set(assertLength(identityPublicKey, 32, 'identity public key'), 0);
  out[32] = endpoint.family;
  out.set(endpointAddressBytes(endpoint), 33);
  const port = assertU16(endpoint.port, 'registration port');
  out[49] = port >> 8;
  out[50] = port & 0xff;
  out.set(assertLength(challenge, REGISTRATION_CHALLENGE_BYTES, 'registration challenge'), 51);
  return out;
}
