import {
  bytesEqual,
  DecodeError,
  hasWireGuardKey,
  isAllZero,
  recordCertificate,
  TAG_ORG_ALIAS,
  TAG_ORG_VOUCH,
  type OrgCertRevoke,
  TokenBucket,
} from '@meshguard/core';
import type { NatType } from '../nat/nat-type.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { AdmissionGate, type Admission, type TrustAuthority } from './admission-gate.js';
import type { AliasRecord } from './alias-table.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue, retransmitLimit } from './broadcast-queue.js';
import { encodeGossipEntry, type GossipEntry, type GossipEvent } from './gossip-entry-codec.js';
import { INTRODUCTION_SEQ_FLAG, IndirectRelays } from './indirect-relays.js';
import { Introductions } from './introductions.js';
import { entryAbout, SelfEntry } from './member-entries.js';
import { memberKey } from './member-key.js';
import { isLive, newMember, snapshotMember, type Member, type MemberSnapshot } from './member.js';
import { MembershipTable } from './membership-table.js';
import { OrgControl, ORG_OUTCOMES } from './org-control.js';
import { OrgFlood } from './org-flood.js';
import { Outbox, type SendPurpose } from './outbox.js';
import { adjustPatience, patienceOf } from './patience.js';
import { ProbeTracker, type Probe, type ProbeKind } from './probe-tracker.js';
import { Quarantine, type Candidate } from './quarantine.js';
import { CryptoRandom, randomBelow, sampleDistinct, type RandomSource } from './random-source.js';
import { RecentSet } from './recent-set.js';
import { STATE_REQUEST_SEQ_FLAG, StatePushes } from './state-push.js';
import { Suspicion, suspicionConfirmationsWanted, suspicionMinMs } from './suspicion.js';
import { resolveSwimConfig, type SwimConfig } from './swim-config.js';
import {
  decodeSwimMessageTransient,
  encodeProbeWithEncodedGossip,
  encodeSwimMessage,
  MAX_GOSSIP_ENTRIES,
  TAG_ACK,
  TAG_PING,
  type Ack,
  type Ping,
  type PingReq,
} from './swim-codec.js';
import { systemClock, type SwimClock } from './swim-clock.js';
import { RECEIVED_MESSAGE_TYPES, zeroCounters, zeroTally, type SwimCounters, type SwimStats } from './swim-stats.js';
import type { SwimEvent } from './swim-events.js';
import { TimerQueue } from './timer-queue.js';
import { fromWireEndpoint, sameUdpEndpoint, toWireEndpoint } from './udp-endpoint.js';
import { WireGuardPeers } from './wireguard-peers.js';

export interface SwimIdentity {
  readonly publicKey: Uint8Array;
  /** Our WireGuard public key, advertised in our self entry; null in gossip-only mode. */
  readonly wgPublicKey: Uint8Array | null;
  /** Our 314-byte certificate slot, presented in every Ping and Ack; null without one. */
  readonly certificate: Uint8Array | null;
}

export interface SwimNodeOptions {
  readonly identity: SwimIdentity;
  readonly trust: TrustAuthority;
  /** Hands a datagram to the socket; the node never waits for it. */
  readonly send: (bytes: Uint8Array, to: UdpEndpoint) => void;
  readonly onEvent?: (event: SwimEvent) => void;
  readonly clock?: SwimClock;
  readonly random?: RandomSource;
  readonly config?: Partial<SwimConfig>;
  /** Where peers should send us SWIM traffic, if we know (public address, or the simulator's). */
  readonly advertisedEndpoint?: UdpEndpoint | null;
  /** STUN-derived address, gossiped for NAT traversal. */
  readonly publicEndpoint?: UdpEndpoint | null;
  readonly natType?: NatType;
  /** Our starting incarnation; default: Unix seconds, so a restarted node outranks its old self. */
  readonly incarnation?: bigint;
  /** The Ping/Ack `incarnation` field (spec §7.7); default: Unix nanoseconds at start. */
  readonly restartEpoch?: bigint;
}

export type SwimStatus = 'running' | 'leaving' | 'left';

const GOSSIP_LIMIT = MAX_GOSSIP_ENTRIES;

/**
 * A SWIM member (Ping/Ack/PingReq with piggybacked gossip, spec §6–7) as a sans-I/O state
 * machine: datagrams and clock readings in (`handleDatagram`, `tick`), datagrams and events
 * out (`send`, `onEvent`), timers exposed through `nextDeadline`. Beyond the reference:
 *
 * - probes walk a shuffled round-robin; indirect probes' Acks really reach the asker, and
 *   count only from a helper we asked, for that seq;
 * - Lifeguard local health scales our timeouts, and suspicion timers shrink from max to min
 *   with independent confirmations;
 * - every liveness change is ordered by the subject's incarnation (the gossip `lamport`);
 *   stale news is dropped, and we refute news of our own death by outbidding it;
 * - a third party's suspect/dead/leave never changes our view by itself: we probe the
 *   subject first, and only our own failed probe (or an org revocation) makes it dead;
 * - nothing changes before the sender — and each join/alive subject — passes the trust gate;
 * - membership, quarantine, rumours, relays and every cache are bounded.
 */
export class SwimNode {
  readonly publicKey: Uint8Array;
  readonly config: SwimConfig;
  readonly #key: string;
  readonly #identity: SwimIdentity;
  readonly #clock: SwimClock;
  readonly #random: RandomSource;
  readonly #emit: (event: SwimEvent) => void;
  readonly #gate: AdmissionGate;
  readonly #table: MembershipTable;
  readonly #rumours: BroadcastQueue;
  readonly #awareness: Awareness;
  readonly #quarantine: Quarantine;
  readonly #org: OrgControl;
  readonly #flood: OrgFlood;
  readonly #wireguard: WireGuardPeers;
  readonly #timers = new TimerQueue();
  readonly #probes = new ProbeTracker();
  readonly #relays: IndirectRelays;
  readonly #pushes: StatePushes;
  readonly #introductions: Introductions<Member>;
  readonly #outbox: Outbox;
  readonly #growth: TokenBucket;
  readonly #quarantineBudget: TokenBucket;
  /** Keys we asked to be introduced lately: one request per key per 10 s, bounded. */
  readonly #introductionCooldown = new RecentSet(256, 10_000);
  readonly #selfEntry: SelfEntry;
  readonly #restartEpoch: bigint;
  readonly #counters: SwimCounters = zeroCounters();
  readonly #received = zeroTally(RECEIVED_MESSAGE_TYPES);
  readonly #orgOutcomes = zeroTally(ORG_OUTCOMES);
  #incarnation: bigint;
  #seq: bigint;
  #status: SwimStatus = 'running';
  #seeds: readonly UdpEndpoint[] = [];
  #seedDelayMs: number;
  #leaveTargets: Member[] = [];
  #leaveMessage: Uint8Array | null = null;
  /** Set by `join`: once the join has settled, we ask one member for its whole view (see #requestState). */
  #stateRequestDue = false;
  /** Members whose request for our view we answered lately: one push per member per push interval. */
  readonly #stateRequests: RecentSet;
  /** When we last added a member, to tell a join that settled from one still in progress. */
  #lastNewMemberAt = -Infinity;

  constructor(options: SwimNodeOptions) {
    this.config = resolveSwimConfig(options.config);
    const c = this.config;
    this.#identity = options.identity;
    this.publicKey = Uint8Array.from(options.identity.publicKey);
    this.#key = memberKey(this.publicKey);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? new CryptoRandom();
    this.#emit = options.onEvent ?? (() => undefined);
    this.#gate = new AdmissionGate(options.trust, this.#clock, {
      certificateChecksPerSecond: c.certificateChecksPerSecond,
      certificateCheckBurst: c.certificateCheckBurst,
      refusedCacheSize: c.refusedCacheSize,
      refusedTtlMs: c.refusedTtlMs,
    });
    this.#table = new MembershipTable(c.maxMembers, this.#random);
    this.#rumours = new BroadcastQueue(c.maxBroadcasts);
    this.#awareness = new Awareness(c.awarenessMax);
    this.#quarantine = new Quarantine({
      capacity: c.quarantineCapacity,
      ttlMs: c.quarantineTtlMs,
      maxProbes: c.quarantineMaxProbes,
      probeGapMs: c.quarantineProbeGapMs,
    });
    this.#org = new OrgControl(options.trust, {
      checksPerSecond: c.orgChecksPerSecond,
      checkBurst: c.orgCheckBurst,
      seenCapacity: c.orgSeenCapacity,
      rememberedRevocations: c.rememberedRevocations,
      aliasCapacity: c.aliasCapacity,
    });
    this.#flood = new OrgFlood(c.floodQueueCapacity);
    this.#wireguard = new WireGuardPeers(this.#emit);
    this.#relays = new IndirectRelays(c.maxRelays);
    this.#pushes = new StatePushes(c.maxPushSessions, c.pushRequestQueue);
    this.#stateRequests = new RecentSet(c.maxMembers, c.pushIntervalMs);
    this.#introductions = new Introductions(
      c.maxMembers,
      c.introductionAttempts,
      c.introductionDelayMs,
      2 * c.probeIntervalMs,
    );
    this.#outbox = new Outbox(options.send, c.sendPacketsPerSecond, c.sendBurst, c.backgroundReserve);
    this.#growth = TokenBucket.perSecond(c.unauthenticatedGrowthPerSecond, c.unauthenticatedGrowthBurst);
    this.#quarantineBudget = TokenBucket.perSecond(
      c.quarantineProbesPerSecond,
      Math.max(1, Math.ceil((c.quarantineProbesPerSecond * c.gossipIntervalMs) / 1000)),
    );
    this.#selfEntry = new SelfEntry({
      publicKey: this.publicKey,
      wgPublicKey: options.identity.wgPublicKey,
      advertised: options.advertisedEndpoint ?? null,
      publicEndpoint: options.publicEndpoint ?? null,
      natType: options.natType ?? 'unknown',
    });
    const wallMs = this.#clock.wallMs();
    this.#incarnation = options.incarnation ?? BigInt(Math.floor(wallMs / 1000));
    this.#restartEpoch = options.restartEpoch ?? BigInt(Math.floor(wallMs)) * 1_000_000n;
    // A random start keeps a restarted node from matching Acks meant for its previous life.
    this.#seq = BigInt(this.#random.nextUint32()) << 16n;
    this.#seedDelayMs = c.seedRetryMs;
    this.#startTimers();
  }

  // ---- inputs ----

  /** Starts contacting seeds (retried with backoff whenever we know no live member). */
  join(seeds: readonly UdpEndpoint[]): void {
    if (this.#status !== 'running') return;
    this.#seeds = seeds.map((s) => ({ address: s.address, port: s.port }));
    this.#seedDelayMs = this.config.seedRetryMs;
    this.#stateRequestDue = this.config.joinPushMaxEntries > 0;
    this.#contactSeeds();
  }

  /**
   * Graceful leave (spec §7.6): one Ping carrying a `leave` entry about us to every live
   * member, paced by the send limiter; from now on we answer nothing, so the receivers'
   * confirming probes fail and they mark us left within about one probe period.
   */
  leave(): void {
    if (this.#status !== 'running') return;
    this.#status = 'leaving';
    this.#incarnation += 1n;
    const entry: GossipEntry = {
      subjectPublicKey: this.publicKey,
      event: 'leave',
      lamport: this.#incarnation,
      endpoint: null,
      wgPublicKey: null,
      publicEndpoint: null,
      natType: 'unknown',
    };
    this.#leaveMessage = encodeProbeWithEncodedGossip(
      'ping',
      {
        senderPublicKey: this.publicKey,
        seq: this.#nextSeq(),
        incarnation: this.#restartEpoch,
        certificate: this.#identity.certificate,
      },
      [encodeGossipEntry(entry)],
    );
    this.#leaveTargets = [...this.#table.values()].filter((m) => isLive(m) && m.endpoint !== null);
    this.#probes.clear();
    this.#relays.clear();
    this.#pushes.clear();
    this.#flood.clear();
    this.#pumpLeave();
  }

  handleDatagram(bytes: Uint8Array, from: UdpEndpoint): void {
    if (this.#status !== 'running') return;
    this.#counters.receivedPackets++;
    this.#counters.receivedBytes += bytes.length;
    const tag = bytes[0];
    if (tag !== undefined && tag >= TAG_ORG_ALIAS && tag <= TAG_ORG_VOUCH) {
      this.#received.org++;
      this.#onOrgMessage(bytes);
      return;
    }
    if (tag === undefined || tag < TAG_PING || tag > TAG_ACK) {
      // Hole-punch messages (0x33/0x34) are classified as SWIM too; they belong to the NAT
      // code, and anything else is noise. Either way, not ours.
      this.#counters.malformed++;
      return;
    }
    let message: Ping | Ack | PingReq;
    try {
      // Gossip keys stay views of `bytes` (see decodeSwimMessageTransient): whatever keeps
      // one — a new member, a WireGuard key, a quarantine candidate — copies it.
      message = decodeSwimMessageTransient(bytes);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.#counters.malformed++;
      return;
    }
    this.#received[message.kind]++;
    if (message.kind === 'ping-req') this.#onPingReq(message, from);
    else this.#onProbeMessage(message, from);
  }

  /** Runs every timer that is due by the injected clock. */
  tick(): void {
    this.#timers.runDue(this.#clock.nowMs());
  }

  /** Monotonic ms at which `tick` next has work (a deadline, not a promise of events). */
  nextDeadline(): number {
    return this.#timers.nextAt();
  }

  /**
   * Floods an org message we hold locally (e.g. a `revoked/*.revoke` loaded at startup) as if
   * we had just received it: verified, applied, remembered and sent to every live member.
   */
  publishOrgMessage(bytes: Uint8Array): void {
    if (this.#status === 'running') this.#onOrgMessage(bytes);
  }

  /**
   * Trust changed outside the node (trust files reloaded): forget every cached decision and
   * re-judge every member now; those no longer admitted are dead at once.
   */
  trustChanged(): void {
    this.#gate.invalidate();
    this.#rejudgeMembers(null);
  }

  // ---- views ----

  get status(): SwimStatus {
    return this.#status;
  }

  get incarnation(): bigint {
    return this.#incarnation;
  }

  get awareness(): number {
    return this.#awareness.score;
  }

  members(): MemberSnapshot[] {
    return [...this.#table.values()].map(snapshotMember);
  }

  member(publicKey: Uint8Array): MemberSnapshot | undefined {
    const m = this.#table.get(memberKey(publicKey));
    return m === undefined ? undefined : snapshotMember(m);
  }

  aliases(): readonly AliasRecord[] {
    return this.#org.aliases.entries();
  }

  stats(): SwimStats {
    const caches = this.#gate.cacheSizes;
    const sent = this.#outbox.totals();
    return {
      members: this.#table.size,
      liveMembers: this.#table.liveCount,
      quarantine: this.#quarantine.size,
      broadcasts: this.#rumours.size,
      pendingProbes: this.#probes.size,
      relays: this.#relays.size,
      pushes: this.#pushes.size,
      introductions: this.#introductions.size,
      floodJobs: this.#flood.pending,
      timers: this.#timers.size,
      refusedKeys: caches.refusedKeys,
      refusedCertificates: caches.refusedCertificates,
      orgSeen: this.#org.seenCount,
      aliases: this.#org.aliases.size,
      wireGuardPeers: this.#wireguard.size,
      awareness: this.#awareness.score,
      incarnation: this.#incarnation,
      counters: {
        ...this.#counters,
        sentPackets: sent.packets,
        sentBytes: sent.bytes,
        sendDropped: this.#outbox.dropped,
      },
      sent: this.#outbox.byPurpose(),
      received: { ...this.#received },
      org: { ...this.#orgOutcomes },
    };
  }

  // ---- timers ----

  #startTimers(): void {
    const c = this.config;
    const now = this.#clock.nowMs();
    // Random phases, so a mesh started at one instant does not probe in lockstep.
    this.#timers.schedule(now + randomBelow(this.#random, c.probeIntervalMs), () => this.#probeRound());
    this.#timers.schedule(now + randomBelow(this.#random, c.gossipIntervalMs), () => this.#gossipRound());
    this.#repeat(c.pushIntervalMs, () => this.#periodicPush());
    this.#repeat(c.reconnectIntervalMs, () => this.#reconnect());
    this.#repeat(c.revocationRefreshMs, () => this.#refreshRevocations());
    this.#repeat(c.trustSweepMs, () => this.#trustSweep());
  }

  #repeat(periodMs: number, fn: () => void): void {
    if (periodMs <= 0) return;
    const run = (): void => {
      if (this.#status === 'left') return;
      this.#timers.schedule(this.#clock.nowMs() + periodMs, run);
      if (this.#status === 'running') fn();
    };
    this.#timers.schedule(this.#clock.nowMs() + randomBelow(this.#random, Math.max(1, Math.floor(periodMs))), run);
  }

  #probeRound(): void {
    if (this.#status === 'left') return;
    const now = this.#clock.nowMs();
    this.#timers.schedule(now + this.#awareness.scale(this.config.probeIntervalMs), () => this.#probeRound());
    if (this.#status !== 'running' || this.#probes.periodicInFlight) return;
    const target = this.#table.nextProbeTarget((m) => isLive(m) && m.endpoint !== null && !this.#probes.probing(m.key));
    if (target !== null) this.#startProbe(target, 'periodic');
  }

  #gossipRound(): void {
    if (this.#status === 'left') return;
    this.#timers.schedule(this.#clock.nowMs() + this.config.gossipIntervalMs, () => this.#gossipRound());
    if (this.#status === 'leaving') {
      this.#pumpLeave();
      return;
    }
    this.#requestState();
    this.#pumpPushes();
    this.#pumpFlood();
    this.#probeQuarantine();
    // Members that may not know us are greeted first; rumours then go to random members. A
    // backlog (a burst of joins, a partition healing) is sent faster rather than queued
    // longer: every rumour or greeting costs the same either way, so total bytes hardly
    // change while the news arrives sooner. Bounded by gossipMaxFanout (greetings: by
    // introductionMaxPerRound) and the limiter. A message carries eight rumours but only
    // one greeting: pacing greetings like rumours sent a backlog of a hundred at two a round,
    // and the first seconds of a mass join — every member knowing a few dozen others — crawled.
    const pace = (queued: number, perMessage: number, floor: number, max: number): number =>
      Math.min(max, Math.max(floor, Math.ceil(queued / (perMessage * this.config.gossipBacklogDivisor))));
    const greet =
      this.#introductions.size === 0
        ? []
        : this.#introductions.take(
            pace(this.#introductions.size, 1, 1, this.config.introductionMaxPerRound),
            this.#clock.nowMs(),
            (m) => this.#table.get(m.key) === m && this.#isReachable(m) && !m.heardFrom,
          );
    // A greeting is a Ping: our self entry, what we know of the greeted member (so it can
    // tell an established member from a newcomer that wants our view), and rumours. Its Ack
    // tells us it arrived and brings the other side's rumours.
    for (const target of greet) {
      const aboutYou = encodeGossipEntry(entryAbout(target, 'alive'));
      // Out of tokens: the rest wait for their retry, already scheduled.
      if (!this.#sendProbeMessage('ping', this.#nextSeq(), target, target.endpoint!, 'greeting', [aboutYou])) return;
    }
    if (this.#rumours.size === 0) return;
    // Greetings carry rumours too, but only to members that may not know us: members everyone
    // already knows (seeds, above all) heard nothing for as long as a mass join's greetings
    // lasted — refutations of their own suspicions included. One random target per round at
    // least keeps every member in the epidemic.
    const random = sampleDistinct(
      this.#random,
      this.#table.all(),
      Math.max(
        Math.min(1, this.config.gossipFanout),
        pace(this.#rumours.size, GOSSIP_LIMIT, this.config.gossipFanout, this.config.gossipMaxFanout) - greet.length,
      ),
      (m) => !greet.includes(m) && this.#isReachable(m),
    );
    // One-way, like memberlist's gossip: an Ack no probe is waiting for is applied as gossip
    // by every implementation and answered by none — half the traffic of a Ping.
    for (const target of random) {
      if (!this.#sendProbeMessage('ack', this.#nextSeq(), target, target.endpoint!, 'gossip', [])) break;
    }
  }

  /**
   * Anti-entropy for a join — the pull of memberlist's push/pull: once we have learned of no
   * new member for a protocol period and greeted everyone we learned of, we ask one random
   * member for its whole view. Rumours of a mass join die out fast (each member hears each one
   * back within a round or two), and a pair whose two rumours both missed each other stayed
   * unknown until periodic pushes happened to mend it: 20–40 s in most 60-node joins, over a
   * minute in some 300-node ones. A pull when we know nearly everyone, answered by a member
   * that does too, leaves no such pair, for about N/6 messages per joining member.
   */
  #requestState(): void {
    if (!this.#stateRequestDue || this.#introductions.size > 0) return;
    if (this.#clock.nowMs() - this.#lastNewMemberAt < this.config.probeIntervalMs) return;
    const [target] = sampleDistinct(this.#random, this.#table.all(), 1, (m) => this.#isReachable(m));
    if (target === undefined) return;
    // Refused by the limiter: next round.
    const seq = this.#nextSeq() | STATE_REQUEST_SEQ_FLAG;
    if (this.#sendProbeMessage('ping', seq, target, target.endpoint!, 'push', [])) this.#stateRequestDue = false;
  }

  /** A member asked for our view (see #requestState): pushed now, or once a session frees up. */
  #onStateRequest(requester: Member): void {
    const now = this.#clock.nowMs();
    if (!this.#isReachable(requester) || this.#stateRequests.has(requester.key, now)) return;
    if (this.#pushes.pushingTo(requester)) return;
    this.#stateRequests.add(requester.key, now);
    if (this.#pushes.free) this.#pushes.start(requester, this.#viewFor(requester));
    else this.#pushes.wait(requester);
  }

  /** Our live view for a state push to `target`: every alive member but itself, up to the cap. */
  #viewFor(target: Member): string[] {
    const keys: string[] = [];
    for (const m of this.#table.values()) {
      if (keys.length >= this.config.joinPushMaxEntries) break;
      if (m !== target && m.state === 'alive') keys.push(m.key);
    }
    return keys;
  }

  #periodicPush(): void {
    const [target] = sampleDistinct(this.#random, this.#table.all(), 1, (m) => this.#isReachable(m));
    if (target === undefined) return;
    const all = this.#table.all();
    const window: string[] = [];
    const start = randomBelow(this.#random, all.length);
    for (let i = 0; i < all.length && window.length < this.config.pushEntries; i++) {
      const m = all[(start + i) % all.length]!;
      if (m !== target && m.state === 'alive') window.push(m.key);
    }
    this.#pushes.start(target, window);
  }

  /** Retry one dead member directly: if it is back, our Ping's `dead` hint makes it refute. */
  #reconnect(): void {
    const [m] = sampleDistinct(this.#random, this.#table.all(), 1, (x) => x.state === 'dead' && x.endpoint !== null);
    if (m === undefined) return;
    this.#sendProbeMessage('ping', this.#nextSeq(), m, m.endpoint!, 'reconnect', []);
  }

  #refreshRevocations(): void {
    const remembered = this.#org.remembered();
    if (remembered.length === 0) return;
    const targets = sampleDistinct(this.#random, this.#table.all(), this.config.revocationRefreshFanout, (m) =>
      this.#isReachable(m),
    );
    this.#flood.enqueue(
      [...remembered],
      targets.map((m) => m.key),
    );
    this.#pumpFlood();
  }

  /** Certificate-based admissions end when the certificate does; re-judge those that expired. */
  #trustSweep(): void {
    const nowSeconds = Math.floor(this.#clock.wallMs() / 1000);
    for (const m of [...this.#table.values()]) {
      if (!isLive(m) || m.admission === null) continue;
      if (m.admission.untilSeconds > nowSeconds && m.admission.epoch === this.#gate.epoch) continue;
      const verdict = this.#gate.admitSubject(m.publicKey, m.key, m);
      if (verdict.allowed) this.#storeAdmission(m, verdict);
      else this.#markDead(m, 'untrusted');
    }
  }

  #contactSeeds(): void {
    if (this.#seeds.length === 0 || this.#status !== 'running') return;
    if (this.#table.liveCount === 0) {
      for (const seed of this.#seeds) this.#sendProbeMessage('ping', this.#nextSeq(), null, seed, 'seed', []);
    } else {
      this.#seedDelayMs = this.config.seedRetryMs;
    }
    const delay = this.#seedDelayMs;
    this.#seedDelayMs = Math.min(this.config.seedRetryMaxMs, this.#seedDelayMs * 2);
    this.#timers.schedule(this.#clock.nowMs() + delay, () => this.#contactSeeds());
  }

  // ---- probing ----

  /**
   * False when the limiter refused the Ping: then there is no probe at all. A Ping that never
   * left cannot go unanswered, and timing it anyway turned our own congestion (a seed acking
   * a thousand newcomers) into suspicions of members that were fine — one of which, its
   * refutation lost in the join, was declared dead a suspicion timeout later.
   */
  #startProbe(target: Member, kind: ProbeKind): boolean {
    const seq = this.#nextSeq();
    const now = this.#clock.nowMs();
    const probe: Probe = {
      seq,
      kind,
      member: target,
      sentTo: target.endpoint!,
      startedAt: now,
      phase: 'direct',
      helpers: new Set(),
      timer: null,
    };
    this.#probes.add(probe);
    // A confirming probe tells the subject what it is accused of, so it refutes at once
    // (Lifeguard's buddy rule): otherwise only the accuser spreads the claim, and the
    // subject may never hear it before the accuser's timer runs out.
    const claim = kind === 'confirm' ? target.claim : null;
    const hint =
      claim === null || target.state !== 'alive'
        ? []
        : [encodeGossipEntry({ ...entryAbout(target, 'suspect'), lamport: claim.incarnation })];
    if (!this.#sendProbeMessage('ping', seq, target, probe.sentTo, 'probe', hint)) {
      this.#probes.settle(seq);
      return false;
    }
    this.#counters.probes++;
    if (kind === 'confirm') this.#counters.confirmations++;
    probe.timer = this.#timers.schedule(now + this.config.probeTimeoutMs * this.#timeoutScale(target), () =>
      this.#directTimeout(probe),
    );
    return true;
  }

  #directTimeout(probe: Probe): void {
    if (this.#probes.get(probe.seq) !== probe) return;
    const now = this.#clock.nowMs();
    const target = probe.member;
    const helpers = sampleDistinct(
      this.#random,
      this.#table.all(),
      this.config.indirectChecks,
      (m) => m !== target && m.state === 'alive' && m.endpoint !== null,
    );
    const request = encodeSwimMessage({
      kind: 'ping-req',
      senderPublicKey: this.publicKey,
      targetPublicKey: target.publicKey,
      seq: probe.seq,
    });
    for (const helper of helpers) {
      if (this.#transmit(request, helper.endpoint!, 'ping-req')) probe.helpers.add(helper.key);
    }
    probe.phase = 'indirect';
    const end = Math.max(
      probe.startedAt + this.config.probeIntervalMs * this.#timeoutScale(target),
      now + this.config.probeTimeoutMs,
    );
    probe.timer = this.#timers.schedule(end, () => this.#probeFailed(probe));
  }

  #probeFailed(probe: Probe): void {
    if (this.#probes.settle(probe.seq) !== probe) return;
    this.#counters.probeFailures++;
    // Lifeguard counts a failed probe against our own health too: without Nacks we cannot
    // tell a dead target from our own slowness, and a healthy node recovers the point with
    // its next prompt Ack.
    this.#awareness.applyDelta(1);
    const m = probe.member;
    if (this.#table.get(m.key) !== m) return;
    // A recheck only ever clears a suspicion; if the member was cleared meanwhile by other
    // news, its next periodic probe judges it afresh.
    if (probe.kind === 'recheck') return;
    const claim = m.claim;
    if (probe.kind === 'confirm' && claim !== null) {
      m.claim = null;
      if (claim.timer !== null) claim.timer.cancelled = true;
      if (m.incarnation > claim.incarnation || m.state !== 'alive') return;
      if (claim.event === 'leave') {
        this.#markLeft(m);
        return;
      }
      m.incarnation = claim.incarnation > m.incarnation ? claim.incarnation : m.incarnation;
      this.#markSuspect(m, claim.claimers);
      return;
    }
    if (m.state === 'alive') {
      const claimers = claim?.claimers ?? new Set<string>();
      if (claim !== null) {
        m.claim = null;
        if (claim.timer !== null) claim.timer.cancelled = true;
        if (claim.event === 'leave') {
          this.#markLeft(m);
          return;
        }
      }
      this.#markSuspect(m, claimers);
    }
  }

  #probeSucceeded(probe: Probe, via: 'direct' | 'indirect', from: UdpEndpoint): void {
    if (this.#probes.settle(probe.seq) !== probe) return;
    const m = probe.member;
    // Lifeguard: a prompt direct Ack is evidence our timing fits the mesh; an answer that
    // needed helpers or came late (a missed Ack) says our timeouts are too tight for it right
    // now — because we are slow, or because members are — so we wait longer to accuse.
    const prompt = via === 'direct' && probe.phase === 'direct';
    this.#awareness.applyDelta(prompt ? -1 : 1);
    if (via === 'indirect') this.#counters.indirectSuccesses++;
    if (this.#table.get(m.key) !== m) return;
    if (prompt) {
      this.#adjustPatience(m, -1);
      // An exponentially weighted mean, as TCP's SRTT: for choosing relays, not for timeouts.
      const rtt = this.#clock.nowMs() - probe.startedAt;
      m.rttMs = m.rttMs === null ? rtt : 0.875 * m.rttMs + 0.125 * rtt;
    }
    if (via === 'direct' && sameUdpEndpoint(from, probe.sentTo)) m.endpointConfirmed = true;
    this.#disproveClaims(m);
  }

  /** Our own probe reached the member: pending claims and our suspicion at this incarnation are void. */
  #disproveClaims(m: Member): void {
    const now = this.#clock.nowMs();
    const claim = m.claim;
    let through = m.incarnation;
    if (claim !== null) {
      if (claim.timer !== null) claim.timer.cancelled = true;
      if (claim.incarnation > through) through = claim.incarnation;
      m.claim = null;
    }
    if (m.state === 'suspect') {
      this.#clearSuspicion(m);
      this.#setState(m, 'alive');
      this.#emit({ type: 'member-alive', member: snapshotMember(m), previous: 'suspect' });
      this.#wireguard.sync(m);
    }
    m.clearedThrough = through;
    m.clearedUntil = now + this.config.claimCooldownMs;
  }

  // ---- receiving ----

  #onProbeMessage(m: Ping | Ack, from: UdpEndpoint): void {
    let member = this.#table.lookup(m.senderPublicKey);
    const key = member?.key ?? memberKey(m.senderPublicKey);
    if (key === this.#key) return;
    const admission = this.#gate.admitSender(m.senderPublicKey, key, m.certificate, member);
    if (!admission.allowed) {
      this.#counters.refused++;
      // A member trust no longer admits (its certificate expired, say) is gone now, not
      // after a suspicion timeout. A refusal for lack of budget says nothing about it.
      if (member !== undefined && isLive(member) && admission.reason !== 'verification-budget') {
        this.#markDead(member, 'untrusted');
      }
      return;
    }
    const introduced = m.kind === 'ack' ? this.#quarantine.introduced(m.seq, key, from) : null;
    if (introduced !== null && m.kind === 'ack') {
      this.#onIntroduction(m, key, member, introduced, admission);
      return;
    }
    let registered = false;
    if (member === undefined) {
      // Its own alive entry, if it brought one, tells us where its incarnation stands.
      let incarnation = 0n;
      for (const e of m.gossip) {
        if (e.event === 'alive' && e.lamport > incarnation && bytesEqual(e.subjectPublicKey, m.senderPublicKey)) {
          incarnation = e.lamport;
        }
      }
      member = this.#register(
        m.senderPublicKey,
        key,
        { address: from.address, port: from.port },
        incarnation,
        admission,
      );
      registered = member !== undefined;
      if (member !== undefined) member.heardFrom = true;
    } else {
      this.#storeAdmission(member, admission);
      this.#onDirectContact(member, from, m.incarnation);
    }
    if (member !== undefined) this.#quarantine.remove(key);
    for (const entry of m.gossip) this.#applyEntry(entry, key);
    if (member !== undefined && registered) {
      this.#queueAbout(member, 'join');
      // A stranger's Ping with nothing to tell but its own entry is how a newcomer (or a
      // restarted member) reaches its seeds; one carrying rumours or a greeting comes from an
      // established member that merely has not met us, and an Ack is only gossip or an answer.
      if (
        m.kind === 'ping' &&
        m.gossip.length <= 1 &&
        m.gossip.every((e) => bytesEqual(e.subjectPublicKey, m.senderPublicKey))
      ) {
        this.#afterFirstContact(member);
      }
      this.#checkRestart(member, m.incarnation);
    }
    if (m.kind === 'ping') {
      this.#sendProbeMessage('ack', m.seq, member ?? null, from, 'ack', []);
      if ((m.seq & STATE_REQUEST_SEQ_FLAG) !== 0n && member !== undefined) this.#onStateRequest(member);
    } else {
      this.#onAck(m, key, from);
    }
  }

  /**
   * A member introduced by a helper: admitted by the certificate in the Ack (checked by the
   * gate like any other), registered at the address gossip gave — never at the helper's,
   * which this datagram came from — and not counted as contact from it.
   */
  #onIntroduction(
    m: Ack,
    key: string,
    member: Member | undefined,
    candidate: Candidate,
    admission: Extract<Admission, { allowed: true }>,
  ): void {
    this.#quarantine.remove(key);
    this.#counters.introducedByHelpers++;
    if (member !== undefined) {
      this.#storeAdmission(member, admission);
      return;
    }
    let incarnation = 0n;
    for (const e of m.gossip) {
      if (e.event === 'alive' && e.lamport > incarnation && bytesEqual(e.subjectPublicKey, m.senderPublicKey)) {
        incarnation = e.lamport;
      }
    }
    // Its address: what gossip told us, else what the introducer says in its alive entry.
    const own = m.gossip.find((e) => e.event === 'alive' && bytesEqual(e.subjectPublicKey, m.senderPublicKey));
    const endpoint = candidate.endpoint ?? fromWireEndpoint(own?.endpoint ?? null);
    if (endpoint === null) return;
    const added = this.#register(m.senderPublicKey, key, endpoint, incarnation, admission);
    if (added === undefined) return;
    for (const entry of m.gossip)
      if (bytesEqual(entry.subjectPublicKey, m.senderPublicKey)) this.#applyEntry(entry, key);
    this.#queueAbout(added, 'join');
  }

  #onAck(m: Ack, senderKey: string, from: UdpEndpoint): void {
    const relay = this.#relays.take(m.seq, senderKey);
    if (relay !== undefined) {
      const target = this.#table.get(relay.targetKey);
      if (relay.introduce && target?.certificateBytes != null) {
        // Introduction: the target's own Ack as we know it — its key, its alive entry, its
        // certificate — so the requester can admit it by the org's signature, not our word.
        const introduction = encodeProbeWithEncodedGossip(
          'ack',
          {
            senderPublicKey: target.publicKey,
            seq: relay.requesterSeq,
            incarnation: target.restartEpoch,
            certificate: target.certificateBytes,
          },
          [encodeGossipEntry(entryAbout(target, 'alive'))],
        );
        this.#transmit(introduction, relay.requester, 'relay');
        return;
      }
      const requester = relay.requesterKey === null ? null : (this.#table.get(relay.requesterKey) ?? null);
      this.#sendProbeMessage('ack', relay.requesterSeq, requester, relay.requester, 'relay', []);
      return;
    }
    const probe = this.#probes.get(m.seq);
    if (probe === undefined) return;
    if (senderKey === probe.member.key) this.#probeSucceeded(probe, 'direct', from);
    else if (probe.helpers.has(senderKey)) this.#probeSucceeded(probe, 'indirect', from);
  }

  #onPingReq(m: PingReq, from: UdpEndpoint): void {
    const key = memberKey(m.senderPublicKey);
    if (key === this.#key) return;
    const requester = this.#table.get(key);
    const admission = this.#gate.admitSender(m.senderPublicKey, key, null, requester);
    if (!admission.allowed) {
      this.#counters.refused++;
      return;
    }
    if (requester !== undefined) this.#storeAdmission(requester, admission);
    const targetKey = memberKey(m.targetPublicKey);
    if (targetKey === this.#key) {
      // The requester could not reach us directly; an Ack from the target itself is accepted.
      this.#sendProbeMessage('ack', m.seq, requester ?? null, from, 'ack', []);
      return;
    }
    const target = this.#table.get(targetKey);
    if (target === undefined || !isLive(target) || target.endpoint === null || this.#relays.full) return;
    const seq = this.#nextSeq();
    this.#relays.add(seq, {
      targetKey,
      requesterKey: requester === undefined ? null : key,
      requester: { address: from.address, port: from.port },
      requesterSeq: m.seq,
      introduce: (m.seq & INTRODUCTION_SEQ_FLAG) !== 0n,
      timer: this.#timers.schedule(this.#clock.nowMs() + this.config.probeIntervalMs * this.#timeoutScale(target), () =>
        this.#relays.expire(seq),
      ),
    });
    this.#sendProbeMessage('ping', seq, target, target.endpoint, 'relay', []);
  }

  /** A Ping/Ack straight from a known member: liveness evidence and maybe a new address. */
  #onDirectContact(member: Member, from: UdpEndpoint, restartEpoch: bigint): void {
    const now = this.#clock.nowMs();
    if (!sameUdpEndpoint(member.endpoint, from)) {
      // A confirmed, working address is not moved by an unconfirmed one: anyone can put a
      // member's key in a datagram from anywhere. A member we cannot reach may have roamed.
      if (!member.endpointConfirmed || member.state !== 'alive') {
        member.endpoint = { address: from.address, port: from.port };
        member.endpointConfirmed = false;
      }
    }
    if (sameUdpEndpoint(member.endpoint, from)) member.lastHeardAt = now;
    member.heardFrom = true;
    this.#checkRestart(member, restartEpoch);
  }

  /** Spec §7.7: a strictly higher restart epoch means the member restarted. */
  #checkRestart(member: Member, epoch: bigint): void {
    if (epoch === 0n) return;
    const nowNs = BigInt(Math.floor(this.#clock.wallMs())) * 1_000_000n;
    if (epoch > nowNs + BigInt(this.config.restartSkewMs) * 1_000_000n) return;
    if (member.restartEpoch === 0n) {
      member.restartEpoch = epoch;
      return;
    }
    if (epoch <= member.restartEpoch) return;
    member.restartEpoch = epoch;
    // Our self entry must reach the new process again, whatever its predecessor knew.
    member.selfSentIncarnation = -1n;
    this.#emit({ type: 'member-restarted', member: snapshotMember(member) });
  }

  #afterFirstContact(member: Member): void {
    // A newcomer that contacted us gets our view (it likely joined through us) and what we
    // know of revocations, so it does not wait for gossip to trickle in.
    this.#pushes.start(member, this.#viewFor(member));
    const remembered = this.#org.remembered();
    if (remembered.length > 0) this.#flood.enqueue([...remembered], [member.key]);
  }

  // ---- gossip application ----

  #applyEntry(e: GossipEntry, senderKey: string): void {
    const member = this.#table.lookup(e.subjectPublicKey);
    if (member !== undefined) {
      if (e.event === 'join' || e.event === 'alive') this.#onAliveEntry(e, member.key, member);
      else this.#onClaim(e.event, e.lamport, member, senderKey);
      return;
    }
    const key = memberKey(e.subjectPublicKey);
    if (key === this.#key) this.#aboutSelf(e);
    else if (!isAllZero(e.subjectPublicKey) && (e.event === 'join' || e.event === 'alive')) {
      this.#onAliveEntry(e, key, undefined, senderKey);
    }
  }

  #aboutSelf(e: GossipEntry): void {
    const refute =
      e.event === 'join' || e.event === 'alive' ? e.lamport > this.#incarnation : e.lamport >= this.#incarnation;
    if (refute) this.#refute(e.lamport);
  }

  /**
   * Our public endpoint or NAT type changed (STUN): a new incarnation carries them, so every
   * member takes the new self entry over the old one.
   */
  advertiseNat(publicEndpoint: UdpEndpoint | null, natType: NatType): void {
    this.#selfEntry.updateNat(publicEndpoint, natType);
    this.#incarnation += 1n;
    this.#rumours.enqueue(this.#key, this.#ownEntry().entry);
  }

  /** Outbid a claim about us (spec §7.4, capped jump) and say so. */
  #refute(claimed: bigint): void {
    const cap = this.#incarnation + this.config.incarnationJumpCap;
    const base = claimed > this.#incarnation ? (claimed < cap ? claimed : cap) : this.#incarnation;
    this.#incarnation = base + 1n;
    if (this.#incarnation >= 1n << 64n) this.#incarnation = (1n << 64n) - 1n;
    this.#counters.refutations++;
    // Lifeguard: being suspected is evidence that we are the slow one.
    this.#awareness.applyDelta(1);
    this.#rumours.enqueue(this.#key, this.#ownEntry().entry);
  }

  #onAliveEntry(e: GossipEntry, key: string, member: Member | undefined, senderKey?: string): void {
    const verdict = this.#gate.admitSubject(e.subjectPublicKey, key, member);
    if (!verdict.allowed) {
      const endpoint = fromWireEndpoint(e.endpoint);
      if (member === undefined && endpoint !== null) {
        this.#quarantine.offer(
          key,
          Uint8Array.from(e.subjectPublicKey),
          endpoint,
          this.#clock.nowMs(),
          senderKey ?? null,
        );
      }
      return;
    }
    if (member === undefined) {
      const endpoint = fromWireEndpoint(e.endpoint);
      if (endpoint === null) return;
      // A copy: the entry's key is a view of the datagram (see handleDatagram).
      const added = this.#register(Uint8Array.from(e.subjectPublicKey), key, endpoint, e.lamport, verdict);
      if (added === undefined) return;
      this.#introductions.add(added, this.#clock.nowMs());
      this.#takeMetadata(added, e);
      this.#queueAbout(added, 'alive');
      return;
    }
    this.#storeAdmission(member, verdict);
    if (e.lamport < member.incarnation) {
      this.#counters.staleIgnored++;
      return;
    }
    if (this.#implausible(member, e.lamport)) return;
    if (e.event === 'join' || e.lamport === member.incarnation) {
      // An introduction, or news we already have: metadata only, never a state change.
      this.#takeMetadata(member, e);
      if (e.lamport === member.incarnation) {
        if (member.rumour !== null)
          this.#rumours.heardAgain(member.rumour, this.#retransmitLimit(), 'alive', e.lamport);
      }
      return;
    }
    const previous = member.state;
    const previousIncarnation = member.incarnation;
    member.incarnation = e.lamport;
    // A newer incarnation means it had to refute someone's suspicion: give it more time.
    // (From 0 it is only the first we hear of its incarnation.)
    if (previousIncarnation !== 0n) this.#adjustPatience(member, 1);
    const endpoint = fromWireEndpoint(e.endpoint);
    if (endpoint !== null && (!member.endpointConfirmed || previous === 'dead' || previous === 'left')) {
      member.endpoint = endpoint;
      member.endpointConfirmed = false;
    }
    this.#takeMetadata(member, e);
    if (member.claim !== null) {
      if (member.claim.timer !== null) member.claim.timer.cancelled = true;
      member.claim = null;
    }
    if (previous === 'suspect') {
      // The subject outbid our suspicion: we accused a live member, so we wait longer before
      // the next accusation.
      this.#awareness.applyDelta(1);
      this.#clearSuspicion(member);
    }
    if (previous !== 'alive') {
      if (member.retentionTimer !== null) member.retentionTimer.cancelled = true;
      member.retentionTimer = null;
      this.#setState(member, 'alive');
      this.#emit({ type: 'member-alive', member: snapshotMember(member), previous });
      this.#wireguard.sync(member);
    }
    // Relayed even when our view did not change: a newer incarnation makes every older claim
    // stale, so nodes that learn it skip probing the member over claims already refuted.
    this.#queueAbout(member, 'alive');
  }

  /**
   * A jump in a member's incarnation larger than a refutation can make (spec §7.1's 2³⁰ cap)
   * is not news but an attempt to push the member beyond what it can outbid: if others held
   * it at such an incarnation, its refutations would all look stale and the next failed probe
   * would be final. Ignored (an incarnation we never heard, 0, accepts any first value).
   */
  #implausible(member: Member, lamport: bigint): boolean {
    if (member.incarnation === 0n || lamport - member.incarnation <= this.config.incarnationJumpCap) return false;
    this.#counters.implausibleIgnored++;
    return true;
  }

  /** Spec §7.4: public endpoint and NAT type are copied; a WireGuard key binds only once. */
  #takeMetadata(m: Member, e: GossipEntry): void {
    if (e.publicEndpoint !== null) m.publicEndpoint = e.publicEndpoint;
    if (e.natType !== 'unknown') m.natType = e.natType;
    if (e.wgPublicKey !== null && !isAllZero(e.wgPublicKey)) this.#bindWireGuard(m, e.wgPublicKey, 'gossip');
  }

  /**
   * A third party's suspect/dead/leave. Never applied as such: a live subject gets probed
   * by us (after a random delay, so a whole mesh does not probe it at once), and only if our
   * probe fails too does it become suspect (or left, for a leave). A subject we already
   * suspect on our own evidence gets a confirmation, which shortens its suspicion timer.
   */
  #onClaim(
    event: Extract<GossipEvent, 'suspect' | 'dead' | 'leave'>,
    lamport: bigint,
    member: Member | undefined,
    senderKey: string,
  ): void {
    if (member === undefined || member.state === 'dead' || member.state === 'left') return;
    if (lamport < member.incarnation) {
      this.#counters.staleIgnored++;
      return;
    }
    if (this.#implausible(member, lamport)) return;
    const now = this.#clock.nowMs();
    if (member.state === 'suspect') {
      if (event === 'leave' && senderKey === member.key) {
        this.#markLeft(member);
      } else if (member.suspicion !== null && lamport >= member.suspicion.incarnation && senderKey !== member.key) {
        if (member.suspicion.confirm(senderKey)) this.#scheduleSuspicion(member);
      }
      return;
    }
    if (now < member.clearedUntil && lamport <= member.clearedThrough) {
      this.#counters.claimsIgnored++;
      return;
    }
    let claim = member.claim;
    if (claim === null) {
      claim = { event, incarnation: lamport, claimers: new Set(), timer: null };
      member.claim = claim;
    } else {
      if (rank(event) > rank(claim.event)) claim.event = event;
      if (lamport > claim.incarnation) claim.incarnation = lamport;
    }
    if (senderKey !== member.key && claim.claimers.size <= this.config.suspicionMult) claim.claimers.add(senderKey);
    if (claim.timer === null && !this.#probes.probing(member.key)) {
      // A member announcing its own departure has stopped answering: no need to wait.
      const delay =
        event === 'leave' && senderKey === member.key
          ? 0
          : randomBelow(this.#random, Math.max(1, this.config.confirmDelayMaxMs));
      claim.timer = this.#timers.schedule(now + delay, () => this.#confirmClaim(member));
    }
  }

  #confirmClaim(member: Member): void {
    const claim = member.claim;
    if (claim === null) return;
    claim.timer = null;
    if (this.#table.get(member.key) !== member || member.state !== 'alive' || member.incarnation > claim.incarnation) {
      member.claim = null;
      return;
    }
    if (member.endpoint === null) {
      member.claim = null;
      return;
    }
    if (this.#probes.probing(member.key)) return; // that probe's outcome settles the claim
    // Too many checks in flight, or no token for the Ping: try again shortly.
    if (
      this.#probes.confirmationsInFlight >= this.config.maxConcurrentConfirmations ||
      !this.#startProbe(member, 'confirm')
    ) {
      claim.timer = this.#timers.schedule(this.#clock.nowMs() + this.config.probeTimeoutMs, () =>
        this.#confirmClaim(member),
      );
    }
  }

  // ---- state transitions ----

  #register(
    publicKey: Uint8Array,
    key: string,
    endpoint: UdpEndpoint,
    incarnation: bigint,
    admission: Extract<Admission, { allowed: true }>,
  ): Member | undefined {
    const now = this.#clock.nowMs();
    // Open mode admits any valid key, so nothing vouches for these newcomers: cap their rate.
    if (admission.reason === 'open' && !this.#growth.take(now)) {
      this.#counters.refusedGrowth++;
      return undefined;
    }
    const member = newMember(key, publicKey, incarnation, endpoint, now);
    const evicted = this.#table.add(member);
    if (evicted === false) {
      this.#counters.refusedCapacity++;
      return undefined;
    }
    this.#lastNewMemberAt = now;
    if (evicted !== null) this.#dispose(evicted);
    this.#storeAdmission(member, admission);
    this.#emit({ type: 'member-joined', member: snapshotMember(member) });
    this.#wireguard.sync(member);
    return member;
  }

  #storeAdmission(member: Member, admission: Extract<Admission, { allowed: true }>): void {
    if (admission === member.admission) return; // the cached decision itself: nothing new
    member.admission = {
      allowed: true,
      certificate: null,
      certificateBytes: null,
      epoch: this.#gate.epoch,
      untilSeconds: admission.untilSeconds,
      reason: admission.reason,
    };
    const cert = admission.certificate;
    if (cert === null) return;
    member.certificate = recordCertificate(cert);
    member.certificateBytes = admission.certificateBytes;
    if (hasWireGuardKey(cert)) this.#bindWireGuard(member, cert.wgPublicKey, 'certificate');
  }

  /** Spec §2.3: a certificate's key binds and overrides; gossip binds only an unbound member. */
  #bindWireGuard(m: Member, key: Uint8Array, source: 'certificate' | 'gossip'): void {
    if (m.wgPublicKey !== null) {
      if (source === 'gossip') return;
      if (m.wgKeySource === 'certificate' && bytesEqual(m.wgPublicKey, key)) return;
    }
    const previous = m.wgPublicKey;
    m.wgPublicKey = Uint8Array.from(key);
    m.wgKeySource = source;
    if (previous !== null && bytesEqual(previous, key)) return;
    this.#emit({
      type: 'wg-key-bound',
      publicKey: Uint8Array.from(m.publicKey),
      wgPublicKey: Uint8Array.from(key),
      previous,
      source,
    });
    this.#wireguard.sync(m);
  }

  #markSuspect(m: Member, claimers: ReadonlySet<string>): void {
    if (m.state !== 'alive') return;
    const now = this.#clock.nowMs();
    const c = this.config;
    const n = this.#table.liveCount + 1;
    const min = suspicionMinMs(c.suspicionMult, n, c.probeIntervalMs);
    const suspicion = new Suspicion(
      m.incarnation,
      now,
      suspicionConfirmationsWanted(c.suspicionMult, n),
      min,
      min * c.suspicionMaxTimeoutMult,
    );
    for (const from of claimers) if (from !== m.key) suspicion.confirm(from);
    m.suspicion = suspicion;
    this.#setState(m, 'suspect');
    this.#scheduleSuspicion(m);
    this.#scheduleRecheck(m, suspicion);
    this.#emit({ type: 'member-suspect', member: snapshotMember(m) });
    // Our own verdict, gossiped even when it confirms another's: each copy from a distinct
    // node is a confirmation that shortens everyone else's timer.
    this.#queueAbout(m, 'suspect');
  }

  #scheduleSuspicion(m: Member): void {
    const s = m.suspicion;
    if (s === null) return;
    if (m.suspicionTimer !== null) m.suspicionTimer.cancelled = true;
    m.suspicionTimer = this.#timers.schedule(Math.max(s.deadline, this.#clock.nowMs()), () => {
      if (m.suspicion === s && m.state === 'suspect' && this.#table.get(m.key) === m) this.#markDead(m, 'failure');
    });
  }

  /**
   * A suspicion nobody confirms rests on our evidence alone, and the refutation that would
   * clear it is a rumour, which can die out before it reaches us: in a mass join the queues
   * hold a thousand rumours for seconds. At N = 1000 the unconfirmed suspicion then runs its
   * full 72 s, while the round-robin only comes back to the member ~1000 periods later — so a
   * live member was declared dead. Hence, every half minimum timeout, we probe it once more
   * ourselves (the Ping carries the suspicion, so it also refutes) and an answer clears it. A
   * member others confirm as failed is left alone: real crashes cost nothing extra, and no
   * recheck ever makes a death come sooner or later.
   */
  #scheduleRecheck(m: Member, s: Suspicion): void {
    const interval = Math.max(this.config.probeIntervalMs, Math.floor(s.minMs / 2));
    this.#timers.schedule(this.#clock.nowMs() + interval, () => {
      if (this.#table.get(m.key) !== m || m.suspicion !== s || m.state !== 'suspect' || m.endpoint === null) return;
      if (s.confirmations >= s.k || s.deadline - this.#clock.nowMs() < this.config.probeTimeoutMs) return;
      this.#scheduleRecheck(m, s);
      if (this.#probes.probing(m.key)) return;
      if (this.#probes.confirmationsInFlight >= this.config.maxConcurrentConfirmations) return;
      this.#startProbe(m, 'recheck');
    });
  }

  #clearSuspicion(m: Member): void {
    if (m.suspicionTimer !== null) m.suspicionTimer.cancelled = true;
    m.suspicionTimer = null;
    m.suspicion = null;
  }

  #markDead(m: Member, cause: 'failure' | 'revoked' | 'untrusted'): void {
    if (m.state === 'dead' || m.state === 'left') return;
    this.#retire(m, 'dead');
    this.#emit({ type: 'member-dead', member: snapshotMember(m), cause });
    this.#queueAbout(m, 'dead');
  }

  #markLeft(m: Member): void {
    if (m.state === 'dead' || m.state === 'left') return;
    this.#retire(m, 'left');
    this.#emit({ type: 'member-left', member: snapshotMember(m) });
    this.#queueAbout(m, 'leave');
  }

  #retire(m: Member, state: 'dead' | 'left'): void {
    this.#clearSuspicion(m);
    if (m.claim?.timer != null) m.claim.timer.cancelled = true;
    m.claim = null;
    this.#probes.settleMember(m.key);
    this.#setState(m, state);
    this.#wireguard.sync(m);
    const changedAt = m.stateChangedAt;
    if (m.retentionTimer !== null) m.retentionTimer.cancelled = true;
    m.retentionTimer = this.#timers.schedule(this.#clock.nowMs() + this.config.deadRetentionMs, () => {
      if (this.#table.get(m.key) === m && !isLive(m) && m.stateChangedAt === changedAt) {
        this.#table.remove(m.key);
        this.#dispose(m);
      }
    });
  }

  /** A member leaving the table (retention over or evicted): nothing of it may linger. */
  #dispose(m: Member): void {
    this.#clearSuspicion(m);
    if (m.claim?.timer != null) m.claim.timer.cancelled = true;
    m.claim = null;
    if (m.retentionTimer !== null) m.retentionTimer.cancelled = true;
    m.retentionTimer = null;
    this.#rumours.remove(m.key);
    this.#wireguard.forget(m.key, m.publicKey);
    this.#emit({ type: 'member-forgotten', publicKey: Uint8Array.from(m.publicKey) });
  }

  #setState(m: Member, state: Member['state']): void {
    this.#table.setState(m, state, this.#clock.nowMs());
  }

  // ---- org messages ----

  #onOrgMessage(bytes: Uint8Array): void {
    const outcome = this.#org.receive(bytes, this.#clock.nowMs());
    this.#orgOutcomes[outcome.kind === 'ignored' ? outcome.reason : outcome.kind]++;
    switch (outcome.kind) {
      case 'revocation':
        this.#gate.invalidate();
        this.#onRevocation(outcome.message, outcome.bytes);
        return;
      case 'vouch':
        this.#gate.invalidate();
        this.#emit({
          type: 'vouch-applied',
          vouch: {
            ...outcome.message,
            orgPublicKey: Uint8Array.from(outcome.message.orgPublicKey),
            vouchedPublicKey: Uint8Array.from(outcome.message.vouchedPublicKey),
            signature: Uint8Array.from(outcome.message.signature),
          },
        });
        return;
      case 'alias':
        this.#emit({
          type: 'alias-changed',
          current: outcome.change.current,
          previous: outcome.change.previous,
          displaced: outcome.change.displaced,
        });
        return;
      case 'ignored':
        return;
    }
  }

  #onRevocation(revocation: OrgCertRevoke, bytes: Uint8Array): void {
    const evicted = this.#rejudgeMembers(revocation);
    this.#emit({
      type: 'revocation-applied',
      // A copy: the trust set keeps the original.
      revocation: {
        ...revocation,
        orgPublicKey: Uint8Array.from(revocation.orgPublicKey),
        nodePublicKey: Uint8Array.from(revocation.nodePublicKey),
        signature: Uint8Array.from(revocation.signature),
      },
      evicted,
    });
    const targets: string[] = [];
    for (const m of this.#table.values()) if (this.#isReachable(m)) targets.push(m.key);
    this.#flood.enqueue([bytes], targets);
    this.#pumpFlood();
  }

  /**
   * Every live member the change may affect is judged again now, and those no longer
   * admitted by any path are dead at once — a revoked peer's tunnel must not outlive the
   * revocation by a suspicion timeout.
   */
  #rejudgeMembers(revocation: OrgCertRevoke | null): Uint8Array[] {
    const evicted: Uint8Array[] = [];
    for (const m of [...this.#table.values()]) {
      if (!isLive(m)) continue;
      if (revocation !== null && !affectedBy(m, revocation)) continue;
      const verdict = this.#gate.admitSubject(m.publicKey, m.key, m);
      if (verdict.allowed) {
        this.#storeAdmission(m, verdict);
        continue;
      }
      this.#markDead(m, revocation !== null ? 'revoked' : 'untrusted');
      evicted.push(Uint8Array.from(m.publicKey));
    }
    return evicted;
  }

  // ---- sending ----

  #nextSeq(): bigint {
    this.#seq = (this.#seq + 1n) & 0xffff_ffff_ffff_ffffn;
    return this.#seq;
  }

  #transmit(bytes: Uint8Array, to: UdpEndpoint, purpose: SendPurpose): boolean {
    return this.#outbox.transmit(bytes, to, purpose, this.#clock.nowMs());
  }

  /**
   * A Ping or Ack with up to eight entries: first what this recipient needs to hear from us
   * in particular (its own suspicion or death, so it can refute — Lifeguard's "buddy" rule;
   * our self entry, if it has not had this incarnation of it), then `extra` (a state push),
   * then the least-sent rumours.
   */
  #sendProbeMessage(
    kind: 'ping' | 'ack',
    seq: bigint,
    recipient: Member | null,
    to: UdpEndpoint,
    purpose: SendPurpose,
    extra: readonly Uint8Array[],
  ): boolean {
    const entries: Uint8Array[] = [];
    let coveredRecipient = false;
    let coveredSelf = false;
    if (recipient !== null && (recipient.state === 'suspect' || recipient.state === 'dead')) {
      entries.push(encodeGossipEntry(entryAbout(recipient, recipient.state === 'suspect' ? 'suspect' : 'dead')));
      coveredRecipient = true;
    }
    if (recipient === null || recipient.selfSentIncarnation !== this.#incarnation) {
      entries.push(this.#ownEntry().bytes);
      coveredSelf = true;
    }
    for (const bytes of extra) if (entries.length < GOSSIP_LIMIT) entries.push(bytes);
    if (entries.length < GOSSIP_LIMIT) {
      const limit = this.#retransmitLimit();
      const rumours = this.#rumours.take(
        GOSSIP_LIMIT - entries.length,
        limit,
        (k) => (coveredSelf && k === this.#key) || (coveredRecipient && k === recipient?.key),
      );
      for (const bytes of rumours) entries.push(bytes);
    }
    const bytes = encodeProbeWithEncodedGossip(
      kind,
      {
        senderPublicKey: this.publicKey,
        seq,
        incarnation: this.#restartEpoch,
        certificate: this.#identity.certificate,
      },
      entries,
    );
    if (!this.#transmit(bytes, to, purpose)) return false;
    // Only once it left: a self entry the limiter dropped (a seed's Ack in a mass join) would
    // otherwise never be sent to that member again, and with it our WireGuard key.
    if (coveredSelf && recipient !== null) recipient.selfSentIncarnation = this.#incarnation;
    return true;
  }

  /** Timeouts for probing `m`: our own local health plus its patience, capped at (awarenessMax + 1)×. */
  #timeoutScale(m: Member): number {
    return Math.min(this.config.awarenessMax + 1, 1 + this.#awareness.score + this.#patience(m));
  }

  #patience(m: Member): number {
    return patienceOf(m, this.#clock.nowMs(), this.config.patienceDecayMs);
  }

  #adjustPatience(m: Member, delta: number): void {
    adjustPatience(m, delta, this.config.awarenessMax, this.#clock.nowMs(), this.config.patienceDecayMs);
  }

  #retransmitLimit(): number {
    return retransmitLimit(this.config.retransmitMult, this.#table.liveCount + 1);
  }

  #ownEntry(): { readonly entry: GossipEntry; readonly bytes: Uint8Array } {
    return this.#selfEntry.at(this.#incarnation);
  }

  #queueAbout(m: Member, event: GossipEvent): void {
    m.rumour = this.#rumours.enqueue(m.key, entryAbout(m, event));
  }

  #pumpPushes(): void {
    const current = (t: Member): boolean => this.#table.get(t.key) === t && this.#isReachable(t);
    this.#pushes.prune(current);
    while (this.#pushes.free) {
      const next = this.#pushes.nextWaiting(current);
      if (next === undefined) break;
      this.#pushes.start(next, this.#viewFor(next));
    }
    for (const session of this.#pushes.sessions()) {
      for (let i = 0; i < this.config.pushMessagesPerRound && session.cursor < session.keys.length; i++) {
        const extra: Uint8Array[] = [];
        while (extra.length < GOSSIP_LIMIT - 2 && session.cursor < session.keys.length) {
          const m = this.#table.get(session.keys[session.cursor++]!);
          if (m !== undefined && m.state === 'alive') extra.push(encodeGossipEntry(entryAbout(m, 'alive')));
        }
        if (extra.length === 0) break;
        if (!this.#sendProbeMessage('ack', this.#nextSeq(), session.target, session.target.endpoint!, 'push', extra)) {
          return;
        }
      }
    }
  }

  #pumpFlood(): void {
    this.#flood.pump((message, key) => {
      const m = this.#table.get(key);
      if (m === undefined || m.endpoint === null || !isLive(m)) return true;
      return this.#transmit(message, m.endpoint, 'flood');
    });
  }

  #probeQuarantine(): void {
    const now = this.#clock.nowMs();
    for (;;) {
      const candidate = this.#quarantine.due(now);
      if (candidate === null) return;
      const endpoint = candidate.endpoint;
      if (this.#table.get(candidate.key) !== undefined || endpoint === null) {
        this.#quarantine.remove(candidate.key);
        continue;
      }
      if (!this.#quarantineBudget.take(now)) return;
      candidate.probes++;
      candidate.lastProbeAt = now;
      // Spec §7.9: no gossip about others to a stranger, but our certificate so it can admit
      // us, our own entry, and its own (which tells it we are no newcomer wanting its view).
      const aboutYou: GossipEntry = {
        subjectPublicKey: candidate.publicKey,
        event: 'alive',
        lamport: 0n,
        endpoint: toWireEndpoint(endpoint),
        wgPublicKey: null,
        publicEndpoint: null,
        natType: 'unknown',
      };
      const ping = encodeProbeWithEncodedGossip(
        'ping',
        {
          senderPublicKey: this.publicKey,
          seq: this.#nextSeq(),
          incarnation: this.#restartEpoch,
          certificate: this.#identity.certificate,
        },
        [this.#ownEntry().bytes, encodeGossipEntry(aboutYou)],
      );
      if (!this.#transmit(ping, endpoint, 'quarantine')) return;
      // From the second try on, also ask for an introduction: behind a NAT that drops our
      // Pings, its certificate can reach us only through a member that reaches it.
      if (candidate.probes >= 2 && !this.#askForIntroduction(candidate)) return;
    }
  }

  /**
   * Asks the member at `via` to introduce `publicKey`, a key we do not know that is reaching us
   * through it (relayed tunnel traffic: it knows us, we never heard of it — a rumour that
   * missed us behind a NAT). Only through a live member, at most once per key per cooldown.
   */
  requestIntroduction(publicKey: Uint8Array, via: UdpEndpoint): boolean {
    const key = memberKey(publicKey);
    if (key === this.#key || this.#table.get(key) !== undefined) return false;
    const helper = this.#table.all().find((m) => isLive(m) && sameUdpEndpoint(m.endpoint, via));
    if (helper === undefined) return false;
    const now = this.#clock.nowMs();
    if (this.#introductionCooldown.has(key, now)) return false;
    this.#introductionCooldown.add(key, now);
    const seq = this.#nextSeq() | INTRODUCTION_SEQ_FLAG;
    if (!this.#quarantine.wantIntroduction(key, Uint8Array.from(publicKey), helper.endpoint!, seq, now)) return false;
    const request = encodeSwimMessage({
      kind: 'ping-req',
      senderPublicKey: this.publicKey,
      targetPublicKey: publicKey,
      seq,
    });
    return this.#transmit(request, helper.endpoint!, 'quarantine');
  }

  /**
   * PingReqs (top seq bit set) to the member that told us of the candidate, if we reach it
   * directly, and to one other member we reach directly — the teller may itself be behind a
   * NAT we only reach through others. False if the send limiter refused.
   */
  #askForIntroduction(candidate: Candidate): boolean {
    // Reached directly: it answered a probe, or spoke to us from its address.
    const reachable = (m: Member | undefined): m is Member =>
      m !== undefined && m.state === 'alive' && m.endpoint !== null && (m.endpointConfirmed || m.heardFrom);
    const helpers: Member[] = [];
    const teller = candidate.introducerKey === null ? undefined : this.#table.get(candidate.introducerKey);
    if (reachable(teller)) helpers.push(teller);
    const [other] = sampleDistinct(this.#random, this.#table.all(), 1, (m) => reachable(m) && m !== teller);
    if (other !== undefined) helpers.push(other);
    if (helpers.length === 0) return true;
    candidate.introductionSeq = this.#nextSeq() | INTRODUCTION_SEQ_FLAG;
    candidate.askedHelpers = helpers.map((h) => h.endpoint!);
    const request = encodeSwimMessage({
      kind: 'ping-req',
      senderPublicKey: this.publicKey,
      targetPublicKey: candidate.publicKey,
      seq: candidate.introductionSeq,
    });
    for (const h of helpers) if (!this.#transmit(request, h.endpoint!, 'quarantine')) return false;
    return true;
  }

  #pumpLeave(): void {
    const message = this.#leaveMessage;
    if (message === null) return;
    while (this.#leaveTargets.length > 0) {
      const target = this.#leaveTargets[this.#leaveTargets.length - 1]!;
      if (target.endpoint !== null && !this.#transmit(message, target.endpoint, 'leave')) return;
      this.#leaveTargets.pop();
    }
    this.#leaveMessage = null;
    this.#status = 'left';
    this.#timers.clear();
    this.#emit({ type: 'left-mesh' });
  }

  #isReachable(m: Member | undefined): m is Member {
    return m !== undefined && isLive(m) && m.endpoint !== null;
  }
}

/** Spec §5.3: the revoked key itself, or a member certified through it as delegated issuer. */
function affectedBy(m: Member, r: OrgCertRevoke): boolean {
  if (bytesEqual(m.publicKey, r.nodePublicKey)) return true;
  const cert = m.certificate;
  return (
    cert !== undefined &&
    bytesEqual(cert.orgPublicKey, r.orgPublicKey) &&
    cert.issuerPublicKey !== undefined &&
    bytesEqual(cert.issuerPublicKey, r.nodePublicKey)
  );
}

function rank(event: 'suspect' | 'dead' | 'leave'): number {
  return event === 'suspect' ? 0 : event === 'dead' ? 1 : 2;
}
