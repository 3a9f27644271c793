import { ArgumentError } from '@meshguard/core';

/**
 * Every tunable of the SWIM node. Timing defaults are memberlist's LAN profile (1 s period,
 * 500 ms direct timeout, suspicion multiplier 4 and max ×6, 3 helpers, 200 ms gossip to 3
 * members, retransmit multiplier 4); limits follow spec §7.1 where it has them (4096 members,
 * 64-candidate quarantine, 500 packets/s burst 100). The reference's own 5 s / 3 s timing is a
 * config away, and stays interoperable: timing is local, only the bytes are shared.
 */
export interface SwimConfig {
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** Helpers asked to probe for us after a direct timeout (k). */
  readonly indirectChecks: number;
  readonly suspicionMult: number;
  readonly suspicionMaxTimeoutMult: number;
  /** Upper bound of the local health score (and of a member's patience). */
  readonly awarenessMax: number;
  /** A member's extra patience drops by one step per this much time. */
  readonly patienceDecayMs: number;

  readonly retransmitMult: number;
  readonly gossipIntervalMs: number;
  readonly gossipFanout: number;
  /** Most gossip messages per round when rumours pile up. */
  readonly gossipMaxFanout: number;
  /** One extra message per round for every (8 × this) queued rumours, or (this) queued greetings. */
  readonly gossipBacklogDivisor: number;
  readonly maxBroadcasts: number;

  readonly maxMembers: number;
  /** Dead and left members are forgotten this long after they went. */
  readonly deadRetentionMs: number;
  /** How often dead members are retried directly, so a healed partition merges back. */
  readonly reconnectIntervalMs: number;

  /** A third party's claim is probed after a random delay up to this, spreading the probes of a whole mesh. */
  readonly confirmDelayMaxMs: number;
  /** After a claim was disproved, further claims up to that incarnation wait this long. */
  readonly claimCooldownMs: number;
  readonly maxConcurrentConfirmations: number;
  readonly maxRelays: number;

  readonly quarantineCapacity: number;
  readonly quarantineTtlMs: number;
  readonly quarantineMaxProbes: number;
  readonly quarantineProbeGapMs: number;
  readonly quarantineProbesPerSecond: number;

  /** State pushed to a member that just contacted us, and periodically to a random one. */
  readonly joinPushMaxEntries: number;
  readonly pushIntervalMs: number;
  readonly pushEntries: number;
  readonly maxPushSessions: number;
  /** Requests for our view (see STATE_REQUEST_SEQ_FLAG) waiting for a free session. */
  readonly pushRequestQueue: number;
  readonly pushMessagesPerRound: number;

  /** Greetings sent to a member learned second-hand until it answers (0 = never greet). */
  readonly introductionAttempts: number;
  /**
   * Most greetings per gossip round when they pile up. A mass join needs about N/2 greetings
   * from every member (gossip alone tells a member who exists, never that it is known back),
   * so this sets the pace of the whole join; a greeting and its Ack cost a token each.
   */
  readonly introductionMaxPerRound: number;
  /** How long a member learned second-hand has to message us before we greet it. */
  readonly introductionDelayMs: number;

  readonly seedRetryMs: number;
  readonly seedRetryMaxMs: number;

  readonly sendPacketsPerSecond: number;
  readonly sendBurst: number;
  /** Tokens background traffic (gossip, pushes, floods) leaves for probes and acks. */
  readonly backgroundReserve: number;

  /** New members admitted only by open mode (no key, certificate or vouch): rate and burst. */
  readonly unauthenticatedGrowthPerSecond: number;
  readonly unauthenticatedGrowthBurst: number;

  readonly certificateChecksPerSecond: number;
  readonly certificateCheckBurst: number;
  readonly refusedCacheSize: number;
  readonly refusedTtlMs: number;

  readonly orgChecksPerSecond: number;
  readonly orgCheckBurst: number;
  readonly orgSeenCapacity: number;
  readonly rememberedRevocations: number;
  readonly revocationRefreshMs: number;
  readonly revocationRefreshFanout: number;
  readonly floodQueueCapacity: number;
  readonly aliasCapacity: number;

  /** Spec §7.7: a restart epoch further ahead of our clock than this is ignored. */
  readonly restartSkewMs: number;
  /**
   * Spec §7.1: how far a remote claim may push our incarnation in one refutation — and how far
   * we let gossip move any member's incarnation in one step.
   */
  readonly incarnationJumpCap: bigint;
  /** How often certificate-based admissions are re-checked for expiry. */
  readonly trustSweepMs: number;
}

export const DEFAULT_SWIM_CONFIG: SwimConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  awarenessMax: 8,
  patienceDecayMs: 60_000,

  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  gossipMaxFanout: 12,
  gossipBacklogDivisor: 4,
  maxBroadcasts: 1024,

  maxMembers: 4096,
  deadRetentionMs: 10 * 60_000,
  reconnectIntervalMs: 30_000,

  confirmDelayMaxMs: 1000,
  claimCooldownMs: 2000,
  maxConcurrentConfirmations: 8,
  maxRelays: 64,

  quarantineCapacity: 64,
  quarantineTtlMs: 30_000,
  quarantineMaxProbes: 3,
  quarantineProbeGapMs: 1000,
  quarantineProbesPerSecond: 20,

  joinPushMaxEntries: 4096,
  pushIntervalMs: 30_000,
  pushEntries: 64,
  maxPushSessions: 4,
  pushRequestQueue: 16,
  // A pull that ends a 1000-node join is ~170 messages: at 4 a round they trickled for 8 s
  // and more, well into the steady state; at 8 the same bytes are sent in half the time.
  pushMessagesPerRound: 8,

  introductionAttempts: 2,
  introductionMaxPerRound: 24,
  introductionDelayMs: 0,

  seedRetryMs: 2000,
  seedRetryMaxMs: 60_000,

  sendPacketsPerSecond: 500,
  sendBurst: 100,
  backgroundReserve: 20,

  unauthenticatedGrowthPerSecond: 64,
  unauthenticatedGrowthBurst: 256,

  certificateChecksPerSecond: 50,
  certificateCheckBurst: 100,
  refusedCacheSize: 1024,
  refusedTtlMs: 30_000,

  orgChecksPerSecond: 50,
  orgCheckBurst: 50,
  orgSeenCapacity: 1024,
  rememberedRevocations: 64,
  revocationRefreshMs: 30_000,
  revocationRefreshFanout: 3,
  floodQueueCapacity: 64,
  aliasCapacity: 64,

  restartSkewMs: 300_000,
  incarnationJumpCap: 1n << 30n,
  trustSweepMs: 10_000,
};

/** Defaults overridden by `overrides`, checked: every duration and bound must be usable. */
export function resolveSwimConfig(overrides: Partial<SwimConfig> = {}): SwimConfig {
  const c: SwimConfig = { ...DEFAULT_SWIM_CONFIG, ...overrides };
  for (const [name, value] of Object.entries(c)) {
    if (typeof value === 'bigint') {
      if (value < 0n) throw new ArgumentError(`swim config ${name} must not be negative`);
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new ArgumentError(`swim config ${name} must be a finite non-negative number, got ${String(value)}`);
    }
  }
  const positive: Array<keyof SwimConfig> = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'maxMembers',
    'maxBroadcasts',
    'sendPacketsPerSecond',
    'sendBurst',
    'unauthenticatedGrowthPerSecond',
    'unauthenticatedGrowthBurst',
    'certificateChecksPerSecond',
    'certificateCheckBurst',
    'orgChecksPerSecond',
    'orgCheckBurst',
    'quarantineProbesPerSecond',
    'retransmitMult',
    'gossipBacklogDivisor',
    'patienceDecayMs',
    'pushMessagesPerRound',
  ];
  for (const name of positive) {
    if (c[name] === 0 || c[name] === 0n) throw new ArgumentError(`swim config ${name} must be positive`);
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new ArgumentError('swim config probeTimeoutMs must be shorter than probeIntervalMs');
  }
  if (c.backgroundReserve >= c.sendBurst)
    throw new ArgumentError('swim config backgroundReserve must be below sendBurst');
  return c;
}
