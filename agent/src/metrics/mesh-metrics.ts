import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { HOLE_PUNCH_DROP_REASONS, type HolePunchStats } from '../nat/hole-puncher.js';
import type { NatType } from '../nat/nat-type.js';
import type { PathType } from '../nat/path-manager.js';
import { RELAY_DROP_REASONS, type RelayStats } from '../nat/relay-service.js';
import { DATAGRAM_DROP_REASONS, type DatagramDropReason } from '../net/datagram-classifier.js';
import type { UdpCounters } from '../net/native-udp-socket.js';
import type { TunCounters } from '../net/tun-device.js';
import type { MemberState } from '../swim/member.js';
import { ORG_OUTCOMES } from '../swim/org-control.js';
import { SEND_PURPOSES } from '../swim/outbox.js';
import { RECEIVED_MESSAGE_TYPES, type SwimStats } from '../swim/swim-stats.js';
import {
  DROP_REASONS,
  HANDSHAKE_FAILURES,
  WIREGUARD_PEER_STATES,
  type DeviceStats,
  type DropReason,
  type HandshakeFailure,
  type WireGuardPeerState,
} from '../wireguard/device.js';

/** What metrics read of the WireGuard device (a WireGuardDevice is one). */
export interface WireGuardMetricsView {
  readonly stats: Readonly<DeviceStats>;
  readonly drops: Readonly<Record<DropReason, number>>;
  readonly handshakeFailures: Readonly<Record<HandshakeFailure, number>>;
  peerStates(): Readonly<Record<WireGuardPeerState, number>>;
}

/**
 * What the node reports at each scrape. Everything is read then — counters the node already
 * keeps as plain numbers, tables counted on demand — so metrics never drift from `status`, and
 * the data path pays nothing for being observed.
 */
export interface MeshMetricsSource {
  memberStates(): Readonly<Partial<Record<MemberState, number>>>;
  peerPaths(): Readonly<Record<PathType, number>>;
  natType(): NatType;
  punch(): Pick<HolePunchStats, 'started' | 'succeeded' | 'failed' | 'dropped'>;
  relay(): Pick<RelayStats, 'framesForwarded' | 'bytesForwarded' | 'framesDelivered' | 'dropped'> & {
    readonly activePairs: number;
  };
  /** Null without a data plane (gossip-only): the WireGuard families then have no series. */
  wireguard(): WireGuardMetricsView | null;
  swim(): Pick<SwimStats, 'counters' | 'sent' | 'received' | 'org'>;
  udp(): { readonly socket: UdpCounters; readonly dropped: Readonly<Record<DatagramDropReason, number>> };
  /** Null without a TUN device (gossip-only). */
  tun(): TunCounters | null;
}

const PATHS: readonly PathType[] = ['direct', 'punched', 'relay', 'connecting'];
const NAT_TYPES: readonly NatType[] = ['public', 'cone', 'symmetric', 'unknown'];
const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

/** The families every node exports (process and Node.js metrics come on top, from prom-client). */
export const MESH_METRIC_NAMES = [
  'meshguard_members',
  'meshguard_peers',
  'meshguard_nat_type',
  'meshguard_holepunch_total',
  'meshguard_holepunch_drops_total',
  'meshguard_relay_frames_total',
  'meshguard_relay_forwarded_bytes_total',
  'meshguard_relay_drops_total',
  'meshguard_relay_pairs',
  'meshguard_wireguard_peers',
  'meshguard_wireguard_handshakes_total',
  'meshguard_wireguard_handshake_initiations_total',
  'meshguard_wireguard_handshake_failures_total',
  'meshguard_wireguard_bytes_total',
  'meshguard_wireguard_drops_total',
  'meshguard_swim_messages_sent_total',
  'meshguard_swim_messages_received_total',
  'meshguard_swim_bytes_total',
  'meshguard_swim_drops_total',
  'meshguard_org_messages_total',
  'meshguard_revocations_applied_total',
  'meshguard_udp_datagrams_total',
  'meshguard_udp_drops_total',
  'meshguard_tun_packets_total',
  'meshguard_tun_write_drops_total',
] as const;

/**
 * A fresh registry with prom-client's process and Node.js metrics and the node's own families.
 * `meshguard up --metrics` serves this one.
 */
export function createMeshMetrics(source: MeshMetricsSource | (() => MeshMetricsSource | null)): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerMeshMetrics(registry, source);
  return registry;
}

/**
 * Registers the node's families in `registry` (no default metrics: add them once yourself).
 * `source` may be a getter, for a caller whose node comes and goes (the in-cluster agent starts
 * its HTTP server before the mesh): while it returns null the families have no series.
 *
 * Labels take only values from fixed sets written in the code — states, path and NAT types,
 * message types, drop and failure reasons — never keys or addresses, so the number of series
 * is the same for a mesh of two nodes or of a thousand.
 */
export function registerMeshMetrics(
  registry: Registry,
  source: MeshMetricsSource | (() => MeshMetricsSource | null),
): void {
  const read = typeof source === 'function' ? source : (): MeshMetricsSource => source;
  const m = new Families(registry, read);

  m.gauge('meshguard_members', 'Members known to SWIM, by state', ['state'], (s, set) => {
    const states = s.memberStates();
    for (const state of MEMBER_STATES) set({ state }, states[state] ?? 0);
  });
  m.gauge('meshguard_peers', 'WireGuard peers, by the path their traffic takes', ['path'], (s, set) => {
    const paths = s.peerPaths();
    for (const path of PATHS) set({ path }, paths[path]);
  });
  m.gauge('meshguard_nat_type', 'This node’s NAT classification (1 for the current type)', ['type'], (s, set) => {
    const current = s.natType();
    for (const type of NAT_TYPES) set({ type }, type === current ? 1 : 0);
  });

  // ---- NAT traversal
  m.counter('meshguard_holepunch_total', 'Hole-punch sessions, by outcome', ['outcome'], (s, set) => {
    const p = s.punch();
    set({ outcome: 'started' }, p.started);
    set({ outcome: 'succeeded' }, p.succeeded);
    set({ outcome: 'failed' }, p.failed);
  });
  m.counter(
    'meshguard_holepunch_drops_total',
    'Hole-punch requests, responses and probes dropped, by reason',
    ['reason'],
    (s, set) => {
      const dropped = s.punch().dropped;
      for (const reason of HOLE_PUNCH_DROP_REASONS) set({ reason: slug(reason) }, dropped[reason] ?? 0);
    },
  );
  m.counter('meshguard_relay_frames_total', 'Relay frames, by what happened', ['result'], (s, set) => {
    const r = s.relay();
    set({ result: 'forwarded' }, r.framesForwarded);
    set({ result: 'delivered' }, r.framesDelivered);
    let dropped = 0;
    for (const reason of RELAY_DROP_REASONS) dropped += r.dropped[reason] ?? 0;
    set({ result: 'dropped' }, dropped);
  });
  m.counter('meshguard_relay_forwarded_bytes_total', 'Bytes forwarded as a relay', [], (s, set) => {
    set({}, s.relay().bytesForwarded);
  });
  m.counter('meshguard_relay_drops_total', 'Relay frames dropped, by reason', ['reason'], (s, set) => {
    const dropped = s.relay().dropped;
    for (const reason of RELAY_DROP_REASONS) set({ reason: slug(reason) }, dropped[reason] ?? 0);
  });
  m.gauge('meshguard_relay_pairs', 'Sender→target pairs this node relays for now', [], (s, set) => {
    set({}, s.relay().activePairs);
  });

  // ---- WireGuard
  m.gauge(
    'meshguard_wireguard_peers',
    'WireGuard peers, by session state (established, connecting, stale)',
    ['state'],
    (s, set) => {
      const states = s.wireguard()?.peerStates();
      if (states !== undefined) for (const state of WIREGUARD_PEER_STATES) set({ state }, states[state]);
    },
  );
  m.counter('meshguard_wireguard_handshakes_total', 'WireGuard handshakes completed (either role)', [], (s, set) => {
    const wg = s.wireguard();
    if (wg !== null) set({}, wg.stats.handshakesCompleted);
  });
  m.counter(
    'meshguard_wireguard_handshake_initiations_total',
    'WireGuard handshake initiations sent, retransmissions included',
    [],
    (s, set) => {
      const wg = s.wireguard();
      if (wg !== null) set({}, wg.stats.initiationsSent);
    },
  );
  m.counter(
    'meshguard_wireguard_handshake_failures_total',
    'WireGuard handshake messages refused and handshakes given up, by reason',
    ['reason'],
    (s, set) => {
      const failures = s.wireguard()?.handshakeFailures;
      if (failures !== undefined) for (const reason of HANDSHAKE_FAILURES) set({ reason }, failures[reason]);
    },
  );
  m.counter(
    'meshguard_wireguard_bytes_total',
    'WireGuard datagram bytes (handshakes and transport, as sent and authenticated), by direction',
    ['direction'],
    (s, set) => {
      const wg = s.wireguard();
      if (wg === null) return;
      set({ direction: 'rx' }, wg.stats.rxBytes);
      set({ direction: 'tx' }, wg.stats.txBytes);
    },
  );
  m.counter(
    'meshguard_wireguard_drops_total',
    'Packets the WireGuard device dropped, by reason',
    ['reason'],
    (s, set) => {
      const drops = s.wireguard()?.drops;
      if (drops !== undefined) for (const reason of DROP_REASONS) set({ reason }, drops[reason]);
    },
  );

  // ---- SWIM
  m.counter('meshguard_swim_messages_sent_total', 'SWIM datagrams sent, by purpose', ['purpose'], (s, set) => {
    const sent = s.swim().sent;
    for (const purpose of SEND_PURPOSES) set({ purpose }, sent[purpose].packets);
  });
  m.counter(
    'meshguard_swim_messages_received_total',
    'SWIM datagrams received that decoded, by type (org: signed org messages)',
    ['type'],
    (s, set) => {
      const received = s.swim().received;
      for (const type of RECEIVED_MESSAGE_TYPES) set({ type }, received[type]);
    },
  );
  m.counter('meshguard_swim_bytes_total', 'SWIM datagram bytes, by direction', ['direction'], (s, set) => {
    const c = s.swim().counters;
    set({ direction: 'rx' }, c.receivedBytes);
    set({ direction: 'tx' }, c.sentBytes);
  });
  m.counter('meshguard_swim_drops_total', 'SWIM input refused and output not sent, by reason', ['reason'], (s, set) => {
    const c = s.swim().counters;
    set({ reason: 'malformed' }, c.malformed);
    set({ reason: 'untrusted' }, c.refused);
    set({ reason: 'growth-limited' }, c.refusedGrowth);
    set({ reason: 'table-full' }, c.refusedCapacity);
    set({ reason: 'send-rate-limited' }, c.sendDropped);
  });
  m.counter(
    'meshguard_org_messages_total',
    'Org messages (revoke, vouch, alias) received or loaded, by outcome: applied kind or why ignored',
    ['outcome'],
    (s, set) => {
      const org = s.swim().org;
      for (const outcome of ORG_OUTCOMES) set({ outcome }, org[outcome]);
    },
  );
  m.counter(
    'meshguard_revocations_applied_total',
    'Org certificate revocations applied (from disk, the API or gossip)',
    [],
    (s, set) => {
      set({}, s.swim().org.revocation);
    },
  );

  // ---- sockets
  m.counter(
    'meshguard_udp_datagrams_total',
    'Datagrams on the mesh UDP socket, by direction',
    ['direction'],
    (s, set) => {
      const c = s.udp().socket;
      set({ direction: 'rx' }, c.datagramsReceived);
      set({ direction: 'tx' }, c.datagramsSent);
    },
  );
  m.counter(
    'meshguard_udp_drops_total',
    'Datagrams dropped at the mesh UDP socket, by reason',
    ['reason'],
    (s, set) => {
      const { socket, dropped } = s.udp();
      for (const reason of DATAGRAM_DROP_REASONS) set({ reason }, dropped[reason]);
      set({ reason: 'send-buffer-full' }, socket.sendDrops);
      set({ reason: 'send-refused' }, socket.sendErrors);
      set({ reason: 'receive-truncated' }, socket.receiveTruncated);
      set({ reason: 'receive-error' }, socket.receiveErrors);
    },
  );
  m.counter(
    'meshguard_tun_packets_total',
    'Packets through the TUN device: read (host to mesh) and written (mesh to host)',
    ['direction'],
    (s, set) => {
      const c = s.tun();
      if (c === null) return;
      set({ direction: 'read' }, c.packetsRead);
      set({ direction: 'written' }, c.packetsWritten);
    },
  );
  m.counter(
    'meshguard_tun_write_drops_total',
    'Packets the kernel did not take from the TUN device (full queue, link down)',
    [],
    (s, set) => {
      const c = s.tun();
      if (c !== null) set({}, c.writeDrops);
    },
  );
}

type Labels = Partial<Record<string, string>>;
type Setter = (labels: Labels, value: number) => void;
type Reader = (source: MeshMetricsSource, set: Setter) => void;

/**
 * Gauges and counters whose values the node already keeps, copied at scrape time. A counter
 * here is the node's own cumulative number (it restarts from zero with the process, which
 * Prometheus reads as a counter reset), so collect() resets and sets rather than increments.
 */
class Families {
  readonly #registry: Registry;
  readonly #source: () => MeshMetricsSource | null;

  constructor(registry: Registry, source: () => MeshMetricsSource | null) {
    this.#registry = registry;
    this.#source = source;
  }

  gauge(name: string, help: string, labelNames: readonly string[], read: Reader): void {
    const source = this.#source;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect() {
        this.reset();
        const s = source();
        if (s !== null) read(s, (labels, value) => this.set(labels, value));
      },
    });
  }

  counter(name: string, help: string, labelNames: readonly string[], read: Reader): void {
    const source = this.#source;
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect() {
        this.reset();
        const s = source();
        if (s !== null) read(s, (labels, value) => this.inc(labels, value));
      },
    });
  }
}

/** "sender not a live member" → "sender-not-a-live-member": one fixed label value per reason. */
function slug(reason: string): string {
  return reason.toLowerCase().replaceAll(' ', '-');
}
