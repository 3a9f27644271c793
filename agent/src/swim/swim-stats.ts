import type { OrgOutcomeLabel } from './org-control.js';
import type { SendPurpose, Tally } from './outbox.js';

/** SWIM datagrams we take in, by what they are (org messages 0x41–0x43 together). */
export const RECEIVED_MESSAGE_TYPES = ['ping', 'ack', 'ping-req', 'org'] as const;

export type ReceivedMessageType = (typeof RECEIVED_MESSAGE_TYPES)[number];

/** Counters and the size of every bounded structure, for tests, logs and metrics. */
export interface SwimStats {
  readonly members: number;
  readonly liveMembers: number;
  readonly quarantine: number;
  readonly broadcasts: number;
  readonly pendingProbes: number;
  readonly relays: number;
  readonly pushes: number;
  readonly introductions: number;
  readonly floodJobs: number;
  readonly timers: number;
  readonly refusedKeys: number;
  readonly refusedCertificates: number;
  readonly orgSeen: number;
  readonly aliases: number;
  readonly wireGuardPeers: number;
  readonly awareness: number;
  readonly incarnation: bigint;
  readonly counters: Readonly<SwimCounters>;
  readonly sent: Readonly<Record<SendPurpose, Tally>>;
  /** Datagrams that decoded, by type (the malformed ones are `counters.malformed`). */
  readonly received: Readonly<Record<ReceivedMessageType, number>>;
  /** Org messages by outcome: revocations, vouches and alias changes applied, or why ignored. */
  readonly org: Readonly<Record<OrgOutcomeLabel, number>>;
}

/** What happened to inputs, cumulatively. */
export interface SwimCounters {
  sentPackets: number;
  sentBytes: number;
  sendDropped: number;
  receivedPackets: number;
  receivedBytes: number;
  malformed: number;
  refused: number;
  refusedGrowth: number;
  refusedCapacity: number;
  probes: number;
  probeFailures: number;
  indirectSuccesses: number;
  confirmations: number;
  refutations: number;
  staleIgnored: number;
  implausibleIgnored: number;
  claimsIgnored: number;
  /** Members admitted through a helper's introduction (their certificate relayed). */
  introducedByHelpers: number;
}

export function zeroCounters(): SwimCounters {
  return {
    sentPackets: 0,
    sentBytes: 0,
    sendDropped: 0,
    receivedPackets: 0,
    receivedBytes: 0,
    malformed: 0,
    refused: 0,
    refusedGrowth: 0,
    refusedCapacity: 0,
    probes: 0,
    probeFailures: 0,
    indirectSuccesses: 0,
    confirmations: 0,
    refutations: 0,
    staleIgnored: 0,
    implausibleIgnored: 0,
    claimsIgnored: 0,
    introducedByHelpers: 0,
  };
}

/** One zero per key, in order: a fixed-shape record whose fields are then only incremented. */
export function zeroTally<K extends string>(keys: readonly K[]): Record<K, number> {
  const tally = {} as Record<K, number>;
  for (const key of keys) tally[key] = 0;
  return tally;
}
