import type { UdpEndpoint } from './endpoint.js';
import { CookieJar } from './cookie.js';
import { KeypairSlots } from './keypair.js';
import type { InitiatorState, RemoteStatic } from './noise-handshake.js';

/** Deadlines (monotonic ms) of wireguard-go's five per-peer timers; null = not armed. */
export interface PeerTimers {
  retransmitHandshake: number | null;
  sendKeepalive: number | null;
  newHandshake: number | null;
  zeroKeyMaterial: number | null;
  persistentKeepalive: number | null;
}

export interface PeerStats {
  rxBytes: number;
  txBytes: number;
  /** Wall-clock ms of the last completed handshake, 0 = never. */
  lastHandshakeWallMs: number;
  handshakesCompleted: number;
}

/** Everything the device keeps per peer. The device's methods drive it; this is state only. */
export class Peer {
  readonly remote: RemoteStatic;
  endpoint: UdpEndpoint | null;
  persistentKeepaliveMs: number;
  readonly keypairs = new KeypairSlots();
  /** Our initiation in flight, if any. */
  initiation: InitiatorState | null = null;
  /** When the current run of initiation attempts started (REKEY_ATTEMPT_TIME is counted from here). */
  handshakeAttemptsStartedAt = 0;
  handshakeAttempts = 0;
  lastInitiationSentAt = -Infinity;
  /** TAI64N of the newest initiation accepted from this peer: older or equal ones are replays. */
  lastAcceptedTimestamp: Uint8Array | null = null;
  lastInitiationConsumedAt = -Infinity;
  /** Set once per session when the initiator rekeys near REJECT_AFTER_TIME on receive. */
  sentLastMinuteHandshake = false;
  needAnotherKeepalive = false;
  readonly cookies = new CookieJar();
  readonly staged: Uint8Array[] = [];
  readonly timers: PeerTimers = {
    retransmitHandshake: null,
    sendKeepalive: null,
    newHandshake: null,
    zeroKeyMaterial: null,
    persistentKeepalive: null,
  };
  readonly stats: PeerStats = { rxBytes: 0, txBytes: 0, lastHandshakeWallMs: 0, handshakesCompleted: 0 };

  constructor(remote: RemoteStatic, endpoint: UdpEndpoint | null, persistentKeepaliveMs: number) {
    this.remote = remote;
    this.endpoint = endpoint;
    this.persistentKeepaliveMs = persistentKeepaliveMs;
  }
}
