import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual, toHex } from '@meshguard/core';
import { decodeHolepunchRequest, encodeHolepunchProbe, encodeHolepunchRequest } from '../../src/nat/holepunch-codec.js';
import { HolePuncher, type PunchMember } from '../../src/nat/hole-puncher.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const ep = (address: string, port = 51821): UdpEndpoint => ({ address, port });

/**
 * Three nodes and a network that delivers by address: A and B behind cone NATs (each seen by
 * everyone at its NAT's public address), R public. Each node's view of the others is what it
 * would have learned by SWIM.
 */
class Net {
  readonly queue: Array<{ from: UdpEndpoint; to: UdpEndpoint; bytes: Uint8Array }> = [];
  readonly nodes = new Map<string, { puncher: HolePuncher; at: UdpEndpoint }>();
  readonly punched: Array<{ at: string; peer: string; endpoint: UdpEndpoint }> = [];
  /** Addresses whose inbound traffic is dropped until they have sent to the sender (a NAT). */
  readonly natted = new Set<string>();
  readonly opened = new Set<string>(); // "natted>remote"
  now = 0;

  add(name: string, self: Uint8Array, at: UdpEndpoint, members: PunchMember[]): HolePuncher {
    let counter = 0;
    const puncher = new HolePuncher({
      self,
      random: (n) => Uint8Array.from({ length: n }, () => (self[0]! * 16 + counter++) & 0xff),
      send: (bytes, to) => {
        if (this.natted.has(at.address)) this.opened.add(`${at.address}>${to.address}`);
        this.queue.push({ from: at, to, bytes: Uint8Array.from(bytes) });
      },
      member: (k) => members.find((m) => bytesEqual(m.publicKey, k)) ?? null,
      memberAt: (from) =>
        members.find((m) => m.endpoint !== null && m.endpoint.address === from.address && m.live) ?? null,
      publicEndpoint: () => at,
      punched: (peer, endpoint) => this.punched.push({ at: name, peer: toHex(peer).slice(0, 2), endpoint }),
    });
    this.nodes.set(at.address, { puncher, at });
    return puncher;
  }

  run(ms: number): void {
    const end = this.now + ms;
    while (this.now <= end) {
      while (this.queue.length > 0) {
        const d = this.queue.shift()!;
        const node = this.nodes.get(d.to.address);
        if (node === undefined) continue;
        if (this.natted.has(d.to.address) && !this.opened.has(`${d.to.address}>${d.from.address}`)) continue;
        if (d.bytes.length === 20) node.puncher.handleProbe(d.bytes.subarray(4), d.from, this.now);
        else node.puncher.handleMessage(d.bytes, d.from, this.now);
      }
      for (const n of this.nodes.values()) n.puncher.tick(this.now);
      this.now += 10;
    }
  }
}

const AK = key(0x0a);
const BK = key(0x0b);
const RK = key(0x0c);
const A_AT = ep('198.51.100.1');
const B_AT = ep('198.51.100.2');
const R_AT = ep('203.0.113.20');
const member = (publicKey: Uint8Array, endpoint: UdpEndpoint): PunchMember => ({ publicKey, endpoint, live: true });

function mesh(): { net: Net; a: HolePuncher; b: HolePuncher; r: HolePuncher } {
  const net = new Net();
  net.natted.add(A_AT.address);
  net.natted.add(B_AT.address);
  // Both NATed nodes talk to R all the time (SWIM), so R can reach them.
  net.opened.add(`${A_AT.address}>${R_AT.address}`);
  net.opened.add(`${B_AT.address}>${R_AT.address}`);
  const a = net.add('a', AK, A_AT, [member(BK, B_AT), member(RK, R_AT)]);
  const b = net.add('b', BK, B_AT, [member(AK, A_AT), member(RK, R_AT)]);
  const r = net.add('r', RK, R_AT, [member(AK, A_AT), member(BK, B_AT)]);
  return { net, a, b, r };
}

describe('HolePuncher', () => {
  it('punches through two NATs via a rendezvous that forwards both ways; both sides learn the path', () => {
    const { net, a, r } = mesh();
    assert.equal(a.start(member(BK, B_AT), member(RK, R_AT), net.now), null);
    net.run(1000);
    assert.deepEqual(net.punched.map((p) => `${p.at}:${p.peer}:${p.endpoint.address}`).sort(), [
      `a:0b:${B_AT.address}`,
      `b:0a:${A_AT.address}`,
    ]);
    assert.equal(r.stats.forwarded, 1);
    assert.equal(a.stats.succeeded, 1);
    assert.equal(a.active(BK), false);
  });

  it('a probe with the right token from the wrong address neither succeeds nor redirects', () => {
    const { net, a, b } = mesh();
    a.start(member(BK, B_AT), member(RK, R_AT), net.now);
    // Deliver only the request (to R, then R's copy to B): B now runs a session expecting A.
    const attacker = ep('192.0.2.66');
    const token = decodeHolepunchRequest(net.queue[0]!.bytes).token;
    for (let i = 0; i < 2; i++) {
      const d = net.queue.shift()!;
      net.nodes.get(d.to.address)!.puncher.handleMessage(d.bytes, d.from, 0);
    }
    assert.equal(b.active(AK), true);
    b.handleProbe(token, attacker, net.now);
    a.handleProbe(token, attacker, net.now);
    assert.equal(net.punched.length, 0);
    assert.equal(a.stats.dropped['probe from an unexpected address'], 1);
    assert.equal(b.stats.dropped['probe from an unexpected address'], 1);
  });

  it('a rendezvous forwards only between live members speaking from their known addresses', () => {
    const { net, r } = mesh();
    const request = (sender: Uint8Array, target: Uint8Array): Uint8Array =>
      encodeHolepunchRequest({
        senderPublicKey: sender,
        targetPublicKey: target,
        publicEndpoint: { family: 4, address: '192.0.2.66', port: 1 },
        token: new Uint8Array(16).fill(7),
      });
    r.handleMessage(request(AK, BK), ep('192.0.2.66'), 0); // claims A, from elsewhere
    r.handleMessage(request(key(0x99), BK), ep('192.0.2.66'), 0); // a stranger
    r.handleMessage(request(AK, key(0x99)), A_AT, 0); // to a stranger
    assert.equal(r.stats.forwarded, 0);
    assert.equal(net.queue.length, 0);
    r.handleMessage(request(AK, BK), A_AT, 0);
    assert.equal(r.stats.forwarded, 1);
    // The forwarded copy names the address R sees A at, not what the request claimed.
    const forwarded = decodeHolepunchRequest(net.queue[0]!.bytes);
    assert.equal(forwarded.publicEndpoint.address, A_AT.address);
  });

  it('a target ignores requests not coming through a live member, and bounds its sessions', () => {
    const { net, b } = mesh();
    const req = (n: number): Uint8Array =>
      encodeHolepunchRequest({
        senderPublicKey: AK,
        targetPublicKey: BK,
        publicEndpoint: { family: 4, address: A_AT.address, port: 51821 },
        token: new Uint8Array(16).fill(n),
      });
    b.handleMessage(req(1), ep('192.0.2.66'), 0);
    assert.equal(b.stats.answered, 0);
    for (let i = 0; i < 40; i++) b.handleMessage(req(i + 2), R_AT, 0);
    assert.equal(b.stats.answered, 16, 'answer slots bounded');
    assert.ok(net.queue.length <= 16 * 2);
  });

  it('a response from the wrong node or a stale token is dropped; a silent rendezvous fails the session', () => {
    const { net, a } = mesh();
    net.nodes.delete(R_AT.address); // R never answers
    a.start(member(BK, B_AT), member(RK, R_AT), 0);
    net.run(3500);
    assert.equal(a.stats.failed, 1);
    assert.deepEqual(
      a.takeOutcomes().map((o) => o.outcome),
      ['failed'],
    );
    assert.equal(a.active(BK), false);
  });

  it('at most four initiated sessions run at once', () => {
    const { a } = mesh();
    const results = [1, 2, 3, 4, 5].map((n) =>
      a.start(member(key(0x20 + n), ep(`198.51.100.${20 + n}`)), member(RK, R_AT), 0),
    );
    assert.deepEqual(results.slice(0, 4), [null, null, null, null]);
    assert.match(results[4]!, /slots busy/);
    assert.match(a.start(member(key(0x21), ep('198.51.100.21')), member(RK, R_AT), 0)!, /running/);
  });

  it('probes are 20-byte MGHP datagrams', () => {
    assert.equal(encodeHolepunchProbe(new Uint8Array(16)).length, 20);
  });
});
