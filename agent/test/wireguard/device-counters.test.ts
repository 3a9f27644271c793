import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COOKIE_REPLY_BYTES,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
} from '../../src/wireguard/constants.js';
import {
  DROP_REASONS,
  HANDSHAKE_FAILURES,
  type DropReason,
  type HandshakeFailure,
  type WireGuardDevice,
} from '../../src/wireguard/device.js';
import { macKeysFor, writeMac1 } from '../../src/wireguard/macs.js';
import { CookieReply, Initiation, readU32LE, writeU32LE } from '../../src/wireguard/messages.js';
import { connect, FakeNetwork, ipv4Packet, type Node } from './fake-network.js';

const A_IP = '10.0.0.1';
const B_IP = '10.0.0.2';

function pair(): { net: FakeNetwork; a: Node; b: Node } {
  const net = new FakeNetwork();
  const a = net.addNode('a', '192.0.2.1');
  const b = net.addNode('b', '192.0.2.2');
  connect(a, A_IP, b, B_IP);
  return { net, a, b };
}

/** Every counter of both reason sets, as one comparable object (only the non-zero ones). */
function nonZero(device: WireGuardDevice): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of DROP_REASONS) if (device.drops[r] !== 0) out[`drop:${r}`] = device.drops[r];
  for (const r of HANDSHAKE_FAILURES)
    if (device.handshakeFailures[r] !== 0) out[`handshake:${r}`] = device.handshakeFailures[r];
  return out;
}

function handshake(net: FakeNetwork, a: Node): void {
  a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
  net.pump();
}

/** A 148-byte initiation to `to` that passes MAC1 and fails everything after it. */
function forgedInitiation(net: FakeNetwork, to: WireGuardDevice): Uint8Array {
  const m = net.random(Initiation.bytes);
  m[0] = MESSAGE_INITIATION;
  m[1] = m[2] = m[3] = 0;
  writeMac1(m, Initiation.mac1, macKeysFor(to.publicKey));
  m.fill(0, Initiation.mac2);
  return m;
}

describe('WireGuardDevice counters', () => {
  it('drops what the inbound filter (the service policy) refuses, after decryption, as policy-denied', () => {
    const { net, a, b } = pair();
    handshake(net, a);
    assert.equal(b.tun.length, 1, 'delivered before any filter');
    const seen: string[] = [];
    b.admit = (peer, packet) => {
      seen.push(Buffer.from(peer.remote.publicKey).toString('hex'));
      return packet.length < 40;
    };
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP, new Uint8Array(4)));
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP, new Uint8Array(100)));
    net.pump();
    assert.equal(b.tun.length, 2, 'the small packet passed');
    assert.equal(b.device.drops['policy-denied'], 1);
    assert.deepEqual(seen, [
      Buffer.from(a.device.publicKey).toString('hex'),
      Buffer.from(a.device.publicKey).toString('hex'),
    ]);
    assert.deepEqual(nonZero(b.device), { 'drop:policy-denied': 1 });
  });

  it('starts with every reason present and zero (a fixed set: bounded metric labels)', () => {
    const { a } = pair();
    assert.deepEqual(Object.keys(a.device.drops), [...DROP_REASONS]);
    assert.deepEqual(Object.keys(a.device.handshakeFailures), [...HANDSHAKE_FAILURES]);
    assert.deepEqual(nonZero(a.device), {});
    assert.deepEqual(a.device.stats, { rxBytes: 0, txBytes: 0, handshakesCompleted: 0, initiationsSent: 0 });
  });

  it('counts handshake messages refused before, during and after authentication, each by its reason', () => {
    const { net, a, b } = pair();
    const from = a.endpoint;
    const expect: Partial<Record<HandshakeFailure, number>> = {};
    const refused = (reason: HandshakeFailure, data: Uint8Array): void => {
      b.device.handleDatagram(data, from);
      expect[reason] = (expect[reason] ?? 0) + 1;
      assert.equal(b.device.handshakeFailures[reason], expect[reason], reason);
    };
    // Wrong length.
    const short = new Uint8Array(Initiation.bytes - 1);
    short[0] = MESSAGE_INITIATION;
    refused('malformed', short);
    // MAC1 over the wrong key: costs one hash.
    const badMac = forgedInitiation(net, a.device);
    refused('bad-mac1', badMac);
    // MAC1 right, the rest garbage: Noise cannot decrypt the static key.
    refused('decrypt-failed', forgedInitiation(net, b.device));
    // A real initiation from a key b does not have as a peer.
    const stranger = net.addNode('x', '203.0.113.9');
    stranger.device.addPeer({ publicKey: b.device.publicKey, endpoint: b.endpoint, allowedIps: ['10.0.0.0/24'] });
    stranger.device.initiateHandshake(b.device.publicKey);
    const strangerInit = net.queue.splice(0).find((p) => p.data[0] === MESSAGE_INITIATION)!;
    refused('unknown-key', strangerInit.data);
    // Two real initiations from a 50 ms apart or less: the second is a flood.
    a.device.initiateHandshake(b.device.publicKey);
    const first = net.queue.splice(0).find((p) => p.data[0] === MESSAGE_INITIATION)!;
    net.clock.advance(6_000);
    a.device.initiateHandshake(b.device.publicKey);
    const second = net.queue.splice(0).find((p) => p.data[0] === MESSAGE_INITIATION)!;
    b.device.handleDatagram(first.data, first.from);
    refused('initiation-flood', second.data);
    // The first again, later: its TAI64N is not newer than the last accepted one.
    net.clock.advance(1_000);
    refused('stale-timestamp', first.data);
    assert.deepEqual(
      nonZero(b.device),
      Object.fromEntries(Object.entries(expect).map(([r, n]) => [`handshake:${r}`, n])),
      'nothing else counted, no packet counted as dropped',
    );
    assert.equal(b.device.stats.handshakesCompleted, 0, 'b answered, but no packet confirmed the session yet');
  });

  it('counts responses and cookie replies that answer nothing of ours, and forged cookies', () => {
    const { net, a, b } = pair();
    a.device.initiateHandshake(b.device.publicKey);
    const init = net.queue.shift()!;
    // A cookie reply for our initiation in flight, but not sealed by b: bad cookie.
    const cookie = net.random(COOKIE_REPLY_BYTES);
    cookie[0] = MESSAGE_COOKIE_REPLY;
    cookie[1] = cookie[2] = cookie[3] = 0;
    writeU32LE(cookie, CookieReply.receiverIndex, readU32LE(init.data, Initiation.senderIndex));
    a.device.handleDatagram(cookie, b.endpoint);
    assert.equal(a.device.handshakeFailures['bad-cookie'], 1);
    // Complete the handshake; the same response again answers no initiation in flight.
    b.device.handleDatagram(init.data, init.from);
    const response = net.queue.shift()!;
    assert.equal(response.data[0], MESSAGE_RESPONSE);
    a.device.handleDatagram(response.data, response.from);
    assert.equal(a.device.stats.handshakesCompleted, 1);
    a.device.handleDatagram(response.data, response.from);
    assert.equal(a.device.handshakeFailures['unexpected-response'], 1);
    // A cookie reply for an index we never gave out.
    writeU32LE(cookie, CookieReply.receiverIndex, 0xdeadbeef);
    a.device.handleDatagram(cookie, b.endpoint);
    assert.equal(a.device.handshakeFailures['unexpected-response'], 2);
    assert.deepEqual(nonZero(a.device), { 'handshake:bad-cookie': 1, 'handshake:unexpected-response': 2 });
  });

  it('counts packets dropped on the way in and out, each by its reason', () => {
    const { net, a, b } = pair();
    handshake(net, a);
    const expect: Partial<Record<DropReason, number>> = {};
    const dropped = (node: Node, reason: DropReason, act: () => void): void => {
      act();
      expect[reason] = (expect[reason] ?? 0) + 1;
      assert.equal(node.device.drops[reason], expect[reason], reason);
    };
    dropped(b, 'malformed', () => {
      b.device.handleDatagram(Uint8Array.of(9, 0, 0, 0, 1, 2, 3), a.endpoint);
    });
    dropped(b, 'malformed', () => {
      b.device.handleDatagram(Uint8Array.of(MESSAGE_TRANSPORT, 0, 0, 0, 1, 2, 3), a.endpoint);
    });
    dropped(b, 'not-ip', () => {
      b.device.handleTunPacket(new Uint8Array(20));
    });
    dropped(b, 'no-route', () => {
      b.device.handleTunPacket(ipv4Packet(B_IP, '10.0.0.77'));
    });
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    const transport = net.queue.shift()!;
    const tampered = Uint8Array.from(transport.data);
    tampered[tampered.length - 1]! ^= 1;
    dropped(b, 'decrypt-failed', () => {
      b.device.handleDatagram(tampered, transport.from);
    });
    const unknownIndex = Uint8Array.from(transport.data);
    unknownIndex[4]! ^= 0xff;
    dropped(b, 'unknown-index', () => {
      b.device.handleDatagram(unknownIndex, transport.from);
    });
    b.device.handleDatagram(transport.data, transport.from);
    dropped(b, 'replay', () => {
      b.device.handleDatagram(transport.data, transport.from);
    });
    assert.deepEqual(nonZero(b.device), Object.fromEntries(Object.entries(expect).map(([r, n]) => [`drop:${r}`, n])));
    assert.equal(b.tun.length, 2, 'the handshake packet and the one authentic copy were delivered');
  });

  it('counts packets it cannot queue or send while no session exists', () => {
    const net = new FakeNetwork();
    const a = net.addNode('a', '192.0.2.1');
    const b = net.addNode('b', '192.0.2.2');
    a.device.addPeer({ publicKey: b.device.publicKey, allowedIps: [`${B_IP}/32`] }); // no endpoint
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    assert.equal(a.device.drops['no-endpoint'], 1, 'the initiation had nowhere to go');
    for (let i = 0; i < 128; i++) a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    assert.equal(a.device.drops['staged-overflow'], 1, 'the 129th queued packet pushed out the oldest');
  });

  it('keeps device-wide byte and handshake totals that survive a peer’s removal', () => {
    const { net, a, b } = pair();
    handshake(net, a);
    b.device.handleTunPacket(ipv4Packet(B_IP, A_IP));
    net.pump();
    const sentBy = (n: Node): number => n.sent.reduce((sum, p) => sum + p.data.length, 0);
    assert.equal(a.device.stats.txBytes, sentBy(a));
    assert.equal(b.device.stats.txBytes, sentBy(b));
    assert.equal(a.device.stats.rxBytes, sentBy(b), 'a authenticated everything b sent');
    assert.equal(b.device.stats.rxBytes, sentBy(a));
    assert.equal(a.device.stats.handshakesCompleted, 1);
    assert.equal(b.device.stats.handshakesCompleted, 1);
    assert.equal(a.device.stats.initiationsSent, 1);
    assert.equal(b.device.stats.initiationsSent, 0);
    const before = { ...a.device.stats };
    a.device.removePeer(b.device.publicKey);
    assert.deepEqual(a.device.stats, before);
  });

  it('reports each peer as connecting, established, then stale once its session expires', () => {
    const { net, a, b } = pair();
    const state = (n: Node, other: Node): string => n.device.peerState(n.device.peer(other.device.publicKey)!);
    assert.deepEqual(a.device.peerStates(), { established: 0, connecting: 0, stale: 1 });
    a.device.initiateHandshake(b.device.publicKey);
    assert.equal(state(a, b), 'connecting');
    const init = net.queue.shift()!;
    b.device.handleDatagram(init.data, init.from);
    assert.equal(state(b, a), 'connecting', 'the responder waits for the first packet');
    net.pump();
    assert.equal(state(a, b), 'established');
    assert.equal(state(b, a), 'established', 'the keepalive confirmed the session');
    assert.deepEqual(b.device.peerStates(), { established: 1, connecting: 0, stale: 0 });
    net.filter = () => false; // nothing gets through any more: no rekey
    net.run(200_000, 1000);
    assert.equal(state(a, b), 'stale');
    assert.equal(state(b, a), 'stale');
  });
});
