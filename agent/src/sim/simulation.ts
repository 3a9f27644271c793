import { ArgumentError, type Ed25519KeyPair } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { TrustAuthority } from '../swim/admission-gate.js';
import { randomUnit, SeededRandom } from '../swim/random-source.js';
import type { SwimClock } from '../swim/swim-clock.js';
import type { SwimConfig } from '../swim/swim-config.js';
import type { SwimEvent } from '../swim/swim-events.js';
import { SwimNode } from '../swim/swim-node.js';
import { EventQueue, type SimEvent } from './event-queue.js';
import { DEFAULT_LINK, NetworkModel, type LinkProfile } from './network-model.js';

export interface SimHostSpec {
  readonly identity: Ed25519KeyPair;
  readonly trust: TrustAuthority;
  readonly wgPublicKey?: Uint8Array | null;
  readonly certificate?: Uint8Array | null;
  readonly config?: Partial<SwimConfig>;
}

/** A host that processes every datagram late, by a delay uniform in [minMs, maxMs], in order. */
export interface SlowProfile {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface SimHost {
  readonly index: number;
  readonly address: UdpEndpoint;
  readonly publicKey: Uint8Array;
  readonly node: SwimNode;
  running: boolean;
  slow: SlowProfile | null;
  busyUntil: number;
  sentPackets: number;
  sentBytes: number;
  receivedPackets: number;
  receivedBytes: number;
  scheduledTickAt: number;
}

export interface SimulationOptions {
  readonly seed: number;
  readonly link?: LinkProfile;
  /** Config shared by every host (a host's own spec overrides it). */
  readonly config?: Partial<SwimConfig>;
  /** Wall-clock Unix ms at virtual time 0 (certificates are judged against it). */
  readonly epochMs?: number;
  readonly onEvent?: (host: SimHost, event: SwimEvent, now: number) => void;
}

export const SWIM_PORT = 51821;

/**
 * A deterministic network of real `SwimNode`s in one process: virtual time from an event
 * queue, every random draw from one seed, links with latency, jitter and loss, partitions,
 * hosts that crash (stop) or run slow (process datagrams late). Same seed, same inputs →
 * the same run, event for event. Nodes are ticked exactly at their own next deadline, so
 * idle hosts cost nothing and a thousand of them fit in a couple of CPU-seconds per
 * simulated minute.
 */
export class Simulation {
  readonly seed: number;
  readonly network: NetworkModel;
  readonly #queue = new EventQueue();
  readonly #random: SeededRandom;
  readonly #hosts: SimHost[] = [];
  readonly #byAddress = new Map<string, SimHost>();
  readonly #config: Partial<SwimConfig>;
  readonly #epochMs: number;
  readonly #onEvent: ((host: SimHost, event: SwimEvent, now: number) => void) | undefined;
  #dropped = 0;

  constructor(options: SimulationOptions) {
    this.seed = options.seed;
    this.#random = new SeededRandom(options.seed);
    this.network = new NetworkModel(options.link ?? DEFAULT_LINK, this.#random.fork(), options.seed);
    this.#config = options.config ?? {};
    this.#epochMs = options.epochMs ?? 1_750_000_000_000;
    this.#onEvent = options.onEvent;
  }

  get now(): number {
    return this.#queue.now;
  }

  get hosts(): readonly SimHost[] {
    return this.#hosts;
  }

  /** Datagrams lost to the network model, partitions or stopped hosts. */
  get droppedPackets(): number {
    return this.#dropped;
  }

  host(index: number): SimHost {
    const h = this.#hosts[index];
    if (h === undefined) throw new ArgumentError(`no simulated host ${index}`);
    return h;
  }

  /** Adds a host (running, knowing nobody) at the current virtual time. */
  addHost(spec: SimHostSpec): SimHost {
    const index = this.#hosts.length;
    if (index >= 1 << 16) throw new ArgumentError('at most 65536 simulated hosts');
    const address: UdpEndpoint = { address: `198.18.${index >> 8}.${index & 0xff}`, port: SWIM_PORT };
    const queue = this.#queue;
    const epochMs = this.#epochMs;
    const clock: SwimClock = { nowMs: () => queue.now, wallMs: () => epochMs + queue.now };
    // The node's callbacks need the host record, which needs the node: a box breaks the cycle.
    const box: { host: SimHost | null } = { host: null };
    const node = new SwimNode({
      identity: {
        publicKey: spec.identity.publicKey,
        wgPublicKey: spec.wgPublicKey ?? null,
        certificate: spec.certificate ?? null,
      },
      trust: spec.trust,
      clock,
      random: this.#random.fork(),
      config: { ...this.#config, ...spec.config },
      advertisedEndpoint: address,
      send: (bytes, to) => this.#transmit(box.host!, bytes, to),
      onEvent: (event) => this.#onEvent?.(box.host!, event, queue.now),
    });
    const host: SimHost = {
      index,
      address,
      publicKey: spec.identity.publicKey,
      node,
      running: true,
      slow: null,
      busyUntil: 0,
      sentPackets: 0,
      sentBytes: 0,
      receivedPackets: 0,
      receivedBytes: 0,
      scheduledTickAt: Infinity,
    };
    box.host = host;
    this.#hosts.push(host);
    this.#byAddress.set(endpointId(address), host);
    this.#reschedule(host);
    return host;
  }

  /** Runs `fn` at virtual time `at` (or now, if in the past). */
  at(at: number, fn: () => void): void {
    this.#queue.push({ at: Math.max(at, this.now), order: 0, kind: 'call', fn });
  }

  join(index: number, seeds: readonly number[]): void {
    const host = this.host(index);
    if (!host.running) return;
    host.node.join(seeds.filter((s) => s !== index).map((s) => this.host(s).address));
    this.#reschedule(host);
  }

  leave(index: number): void {
    const host = this.host(index);
    if (!host.running) return;
    host.node.leave();
    this.#reschedule(host);
  }

  /** Crash: the host stops processing and sending; what is in flight to it is lost. */
  kill(index: number): void {
    this.host(index).running = false;
  }

  setSlow(index: number, slow: SlowProfile | null): void {
    if (slow !== null && !(slow.minMs >= 0 && slow.maxMs >= slow.minMs)) {
      throw new ArgumentError('slow profile must satisfy 0 ≤ min ≤ max');
    }
    this.host(index).slow = slow;
  }

  /** A datagram from anywhere (an attacker, a stranger) to a host, arriving now. */
  inject(to: number, bytes: Uint8Array, from: UdpEndpoint): void {
    this.#queue.push({ at: this.now, order: 0, kind: 'deliver', to, from, bytes, late: false });
  }

  /** Lets the mesh run for `ms` of virtual time. */
  run(ms: number): void {
    this.runUntil(this.now + ms);
  }

  runUntil(until: number): void {
    for (;;) {
      const event = this.#queue.next(until);
      if (event === undefined) return;
      this.#dispatch(event);
    }
  }

  /**
   * Runs in steps of `stepMs` until `done()` holds (returns the virtual time it first held
   * at a step boundary) or `maxMs` passed (returns null).
   */
  runUntilTrue(done: () => boolean, maxMs: number, stepMs: number): number | null {
    const end = this.now + maxMs;
    while (this.now < end) {
      if (done()) return this.now;
      this.runUntil(Math.min(end, this.now + stepMs));
    }
    return done() ? this.now : null;
  }

  hostByAddress(e: UdpEndpoint): SimHost | undefined {
    return this.#byAddress.get(endpointId(e));
  }

  #dispatch(event: SimEvent): void {
    switch (event.kind) {
      case 'call':
        event.fn();
        return;
      case 'tick': {
        const host = this.#hosts[event.host]!;
        if (host.scheduledTickAt !== event.at) return;
        host.scheduledTickAt = Infinity;
        if (!host.running) return;
        host.node.tick();
        this.#reschedule(host);
        return;
      }
      case 'deliver': {
        const host = this.#hosts[event.to]!;
        if (!host.running) {
          this.#dropped++;
          return;
        }
        if (host.slow !== null && !event.late) {
          const delay = host.slow.minMs + randomUnit(this.#random) * (host.slow.maxMs - host.slow.minMs);
          host.busyUntil = Math.max(host.busyUntil, this.now + delay);
          this.#queue.push({ ...event, at: host.busyUntil, order: 0, late: true });
          return;
        }
        host.receivedPackets++;
        host.receivedBytes += event.bytes.length;
        host.node.handleDatagram(event.bytes, event.from);
        this.#reschedule(host);
        return;
      }
    }
  }

  #transmit(from: SimHost, bytes: Uint8Array, to: UdpEndpoint): void {
    if (!from.running) return;
    from.sentPackets++;
    from.sentBytes += bytes.length;
    const target = this.#byAddress.get(endpointId(to));
    if (target === undefined) {
      this.#dropped++;
      return;
    }
    const delay = this.network.delivery(from.index, target.index);
    if (delay === null) {
      this.#dropped++;
      return;
    }
    this.#queue.push({
      at: this.now + delay,
      order: 0,
      kind: 'deliver',
      to: target.index,
      from: from.address,
      bytes,
      late: false,
    });
  }

  /** One pending tick per host, at its node's next deadline. */
  #reschedule(host: SimHost): void {
    if (!host.running) return;
    const at = Math.max(host.node.nextDeadline(), this.now);
    if (at >= host.scheduledTickAt || !Number.isFinite(at)) return;
    host.scheduledTickAt = at;
    this.#queue.push({ at, order: 0, kind: 'tick', host: host.index });
  }
}

function endpointId(e: UdpEndpoint): string {
  return `${e.address}:${e.port}`;
}
