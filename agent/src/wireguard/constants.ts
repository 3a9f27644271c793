/**
 * WireGuard protocol constants (whitepaper §6; spec §11.2). The timing and count limits are
 * gathered in `ProtocolLimits` so tests can shrink them (rekey in seconds, not minutes) —
 * production code always uses `DEFAULT_LIMITS`.
 */
export interface ProtocolLimits {
  readonly rekeyAfterMessages: number;
  readonly rejectAfterMessages: number;
  readonly rekeyAfterTimeMs: number;
  readonly rejectAfterTimeMs: number;
  readonly rekeyAttemptTimeMs: number;
  readonly rekeyTimeoutMs: number;
  /** Upper bound of the random jitter added to each handshake retransmission. */
  readonly rekeyTimeoutJitterMaxMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly cookieRefreshTimeMs: number;
  /** Initiations from one peer closer together than this are dropped (flood guard). */
  readonly handshakeInitiationRateMs: number;
}

/**
 * JS numbers are exact to 2^53. WireGuard's message limits (2^60 to rekey, 2^64 − 2^13 − 1 to
 * reject) are above that, so we cap both below 2^53: a session would need ~285 years at
 * 1 Mpps to reach the cap, and refusing earlier is the safe direction.
 */
const SAFE_COUNTER_LIMIT = Number.MAX_SAFE_INTEGER - 2 ** 16;

export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  rekeyAfterMessages: SAFE_COUNTER_LIMIT - 2 ** 20,
  rejectAfterMessages: SAFE_COUNTER_LIMIT,
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  rekeyTimeoutJitterMaxMs: 334,
  keepaliveTimeoutMs: 10_000,
  cookieRefreshTimeMs: 120_000,
  handshakeInitiationRateMs: 50,
});

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const INITIATION_BYTES = 148;
export const RESPONSE_BYTES = 92;
export const COOKIE_REPLY_BYTES = 64;
export const TRANSPORT_HEADER_BYTES = 16;
export const AEAD_TAG_BYTES = 16;
/** Smallest transport message: header + tag of an empty (keepalive) payload. */
export const TRANSPORT_MIN_BYTES = TRANSPORT_HEADER_BYTES + AEAD_TAG_BYTES;
export const MAC_BYTES = 16;
export const TIMESTAMP_BYTES = 12;
/** Packets queued per peer while a handshake is under way (wireguard-go's QueueStagedSize). */
export const MAX_STAGED_PACKETS = 128;
/** After this long without a new handshake, all key material of a peer is wiped. */
export const ZERO_KEYS_AFTER_FACTOR = 3;
