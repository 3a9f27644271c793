import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { PathType } from '../nat/path-manager.js';
import type { NatType } from '../nat/nat-type.js';

/** What the daemon reports at each scrape; read then, so metrics never drift from `status`. */
export interface MeshMetricsSource {
  memberStates(): Readonly<Record<string, number>>;
  peerPaths(): Readonly<Record<PathType, number>>;
  natType(): NatType;
  punch(): { readonly started: number; readonly succeeded: number; readonly failed: number };
  relay(): {
    readonly framesForwarded: number;
    readonly bytesForwarded: number;
    readonly framesDelivered: number;
    readonly dropped: Readonly<Record<string, number>>;
  };
  wireguardBytes(): { readonly rx: number; readonly tx: number };
}

const PATHS: readonly PathType[] = ['direct', 'punched', 'relay', 'connecting'];
const NAT_TYPES: readonly NatType[] = ['public', 'cone', 'symmetric', 'unknown'];
const MEMBER_STATES = ['alive', 'suspect', 'dead', 'left'] as const;

/**
 * A registry over a running node. Labels take only values from fixed sets (states, path
 * types, NAT types, drop reasons written in the code), never keys or addresses, so the
 * number of series does not grow with the mesh.
 */
export function createMeshMetrics(source: MeshMetricsSource): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'meshguard_members',
    help: 'Members known to SWIM, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const states = source.memberStates();
      for (const state of MEMBER_STATES) this.set({ state }, states[state] ?? 0);
    },
  });
  new Gauge({
    name: 'meshguard_peers',
    help: 'WireGuard peers, by the path their traffic takes',
    labelNames: ['path'],
    registers: [registry],
    collect() {
      const paths = source.peerPaths();
      for (const path of PATHS) this.set({ path }, paths[path]);
    },
  });
  new Gauge({
    name: 'meshguard_nat_type',
    help: 'This node’s NAT classification (1 for the current type)',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      const current = source.natType();
      for (const type of NAT_TYPES) this.set({ type }, type === current ? 1 : 0);
    },
  });
  cumulative(registry, 'meshguard_holepunch_total', 'Hole-punch sessions, by outcome', ['outcome'], (set) => {
    const p = source.punch();
    set({ outcome: 'started' }, p.started);
    set({ outcome: 'succeeded' }, p.succeeded);
    set({ outcome: 'failed' }, p.failed);
  });
  cumulative(registry, 'meshguard_relay_frames_total', 'Relay frames, by what happened', ['result'], (set) => {
    const r = source.relay();
    set({ result: 'forwarded' }, r.framesForwarded);
    set({ result: 'delivered' }, r.framesDelivered);
    let dropped = 0;
    for (const n of Object.values(r.dropped)) dropped += n;
    set({ result: 'dropped' }, dropped);
  });
  cumulative(registry, 'meshguard_relay_forwarded_bytes_total', 'Bytes forwarded as a relay', [], (set) => {
    set({}, source.relay().bytesForwarded);
  });
  cumulative(registry, 'meshguard_wireguard_bytes_total', 'Tunnel payload bytes', ['direction'], (set) => {
    const b = source.wireguardBytes();
    set({ direction: 'rx' }, b.rx);
    set({ direction: 'tx' }, b.tx);
  });
  return registry;
}

type Labels = Partial<Record<string, string>>;

/** A counter whose value the node already keeps: copied at scrape time. */
function cumulative(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly string[],
  read: (set: (labels: Labels, value: number) => void) => void,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      read((labels, value) => {
        this.inc(labels, value);
      });
    },
  });
}
