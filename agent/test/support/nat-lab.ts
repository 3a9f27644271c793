import { join } from 'node:path';
import type { MeshLab } from './mesh-lab.js';
import type { Namespace } from './topology.js';

/** How a NAT router treats its inside hosts' traffic. */
export type NatKind =
  /** MASQUERADE: one mapping per inside socket (port kept when free): a cone NAT to STUN. */
  | 'cone'
  /** MASQUERADE --random-fully: a fresh random port per destination: symmetric. */
  | 'symmetric'
  /** Cone, but traffic to one STUN server leaves from a second public address: the servers disagree. */
  | 'split';

/**
 * Real Linux NAT for the mesh lab: the lab's LAN plays the internet, STUN servers are coturn
 * (Debian) in their own namespaces on it, and each NATed site is a router namespace (its
 * WAN on the LAN, iptables NAT) with one node behind it on a private /24.
 */
export class NatLab {
  readonly lab: MeshLab;
  readonly stunServers: string[] = [];
  #sites = 0;

  constructor(lab: MeshLab) {
    this.lab = lab;
  }

  /** Starts coturn (STUN only) on LAN hosts .11 and .12. */
  startStunServers(): void {
    const t = this.lab.topology;
    for (const host of [11, 12]) {
      const { ns, lanAddress } = this.lab.addHost(`stun${host}`, host);
      const log = join(t.tempDir(), 'turnserver.log');
      t.spawn(ns, [
        'turnserver',
        '-n',
        '--stun-only',
        '--no-cli',
        '--no-tls',
        '--no-dtls',
        '-L',
        lanAddress,
        '-p',
        '3478',
        '--log-file',
        log,
        '--simple-log',
      ]);
      this.stunServers.push(`${lanAddress}:3478`);
    }
  }

  /** The WAN address of site `k`'s router (what peers see a node behind it as). */
  wanAddress(k: number): string {
    return this.lab.lanIp(100 + k);
  }

  /** For `addNode({ site })`: a router doing `kind` NAT, and the node behind it at 10.<k>.0.2. */
  site(kind: NatKind): (ns: Namespace) => string {
    const k = ++this.#sites;
    return (node) => {
      const t = this.lab.topology;
      const router = t.namespace(`r${k}`);
      const hosts = kind === 'split' ? [100 + k, 150 + k] : [100 + k];
      const wan = this.lab.attach(router, hosts).ifname;
      const inside = t.veth(router, node);
      t.addAddress(router, inside.a.ifname, `10.${k}.0.1/24`);
      t.addAddress(node, inside.b.ifname, `10.${k}.0.2/24`);
      t.ipIn(node, ['route', 'add', 'default', 'via', `10.${k}.0.1`]);
      t.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      const nat = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', `10.${k}.0.0/24`, '-o', wan];
      if (kind === 'split') {
        const second = this.stunServers[1]?.split(':')[0];
        if (second === undefined) throw new Error('start the STUN servers before a split site');
        t.exec(router, [...nat, '-d', second, '-j', 'SNAT', '--to-source', this.lab.lanIp(150 + k)]);
      }
      t.exec(router, [...nat, '-j', 'MASQUERADE', ...(kind === 'symmetric' ? ['--random-fully'] : [])]);
      // A home router's stateful firewall: unsolicited datagrams to the router itself are
      // dropped before conntrack confirms them. Without it, a peer's first punch packet (sent
      // before our own went out) would leave a confirmed inbound entry holding the very tuple
      // our NAT mapping needs, and MASQUERADE would move our port — a lab artefact rather
      // than a property of cone NATs.
      t.exec(router, [
        'iptables',
        '-A',
        'INPUT',
        '-i',
        wan,
        '-m',
        'conntrack',
        '--ctstate',
        'NEW,INVALID',
        '-j',
        'DROP',
      ]);
      return `10.${k}.0.2`;
    };
  }
}
