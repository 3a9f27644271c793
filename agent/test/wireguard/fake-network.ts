import type { Peer } from '../../src/wireguard/peer.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { WireGuardDevice, type Clock, type DeviceOptions } from '../../src/wireguard/device.js';
import { endpointKey, type UdpEndpoint } from '../../src/wireguard/endpoint.js';

/** A manual clock: tests move time explicitly. */
export class FakeClock implements Clock {
  t = 1_000_000;
  wall = 1_700_000_000_000;
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.wall;
  }
  advance(ms: number): void {
    this.t += ms;
    this.wall += ms;
  }
}

interface InFlight {
  readonly data: Uint8Array;
  readonly from: UdpEndpoint;
  readonly to: UdpEndpoint;
}

export interface Node {
  readonly name: string;
  readonly device: WireGuardDevice;
  endpoint: UdpEndpoint;
  readonly tun: Uint8Array[];
  readonly sent: InFlight[];
  /** The device sink's inbound filter (the service policy's seat); null admits everything. */
  admit: ((peer: Peer, packet: Uint8Array) => boolean) | null;
}

/** A deterministic in-process network of devices: every datagram is delivered (or dropped) by `pump`. */
export class FakeNetwork {
  readonly clock = new FakeClock();
  readonly nodes = new Map<string, Node>();
  readonly queue: InFlight[] = [];
  /** Return false to drop a datagram (loss, partitions, captures). */
  filter: (p: InFlight) => boolean = () => true;
  #seed = 1;

  /** Deterministic randomness so runs repeat exactly. */
  random = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      this.#seed = (this.#seed * 1103515245 + 12345) >>> 0;
      out[i] = this.#seed >>> 24;
    }
    return out;
  };

  addNode(name: string, address: string, options: Partial<DeviceOptions> = {}): Node {
    const endpoint = { address, port: 51820 };
    const sent: InFlight[] = [];
    const tun: Uint8Array[] = [];
    const node: Node = {
      name,
      endpoint,
      tun,
      sent,
      admit: null,
      device: new WireGuardDevice(
        { privateKey: x25519.utils.randomSecretKey(), clock: this.clock, random: this.random, ...options },
        {
          sendUdp: (data, to) => {
            const p = { data: Uint8Array.from(data), from: node.endpoint, to };
            sent.push(p);
            this.queue.push(p);
          },
          writeTun: (packet) => tun.push(Uint8Array.from(packet)),
          admitInbound: (peer, packet) => node.admit?.(peer, packet) ?? true,
        },
      ),
    };
    this.nodes.set(endpointKey(endpoint), node);
    return node;
  }

  /** Delivers queued datagrams until the network is quiet. */
  pump(limit = 10_000): number {
    let delivered = 0;
    while (this.queue.length > 0 && delivered < limit) {
      const p = this.queue.shift()!;
      const target = [...this.nodes.values()].find(
        (n) => n.endpoint.address === p.to.address && n.endpoint.port === p.to.port,
      );
      if (target === undefined || !this.filter(p)) continue;
      target.device.handleDatagram(p.data, p.from);
      delivered++;
    }
    return delivered;
  }

  /** Advances time in steps, firing timers and delivering traffic as it goes. */
  run(ms: number, stepMs = 100): void {
    for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
      this.clock.advance(stepMs);
      for (const n of this.nodes.values()) n.device.tick();
      this.pump();
    }
  }
}

/** Pairs two nodes as WireGuard peers with /32 (and /128) tunnel addresses. */
export function connect(a: Node, aTunnel: string, b: Node, bTunnel: string): void {
  a.device.addPeer({ publicKey: b.device.publicKey, endpoint: b.endpoint, allowedIps: [`${bTunnel}/32`] });
  b.device.addPeer({ publicKey: a.device.publicKey, endpoint: a.endpoint, allowedIps: [`${aTunnel}/32`] });
}

/** A minimal IPv4/UDP packet; the device only reads the IP header. */
export function ipv4Packet(src: string, dst: string, payload: Uint8Array = new Uint8Array(8)): Uint8Array {
  const p = new Uint8Array(20 + 8 + payload.length);
  p[0] = 0x45;
  const total = p.length;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src.split('.').map(Number), 12);
  p.set(dst.split('.').map(Number), 16);
  p.set(payload, 28);
  return p;
}
