import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
} from '../../src/wireguard/constants.js';
import type { DropReason, HandshakeFailure } from '../../src/wireguard/device.js';
import { SourceRateLimiter } from '../../src/wireguard/rate-limiter.js';
import { connect, FakeNetwork, ipv4Packet, type Node } from './fake-network.js';

const A_IP = '10.0.0.1';
const B_IP = '10.0.0.2';

function pair(
  options: Parameters<FakeNetwork['addNode']>[2] = {},
  bOptions = options,
): { net: FakeNetwork; a: Node; b: Node } {
  const net = new FakeNetwork();
  const a = net.addNode('a', '192.0.2.1', options);
  const b = net.addNode('b', '192.0.2.2', bOptions);
  connect(a, A_IP, b, B_IP);
  return { net, a, b };
}

const types = (n: Node): number[] => n.sent.map((p) => p.data[0]!);
const payload = (text: string): Uint8Array => new TextEncoder().encode(text);
const drops = (n: Node, reason: DropReason): number => n.device.drops[reason];
const failures = (n: Node, reason: HandshakeFailure): number => n.device.handshakeFailures[reason];

describe('WireGuardDevice handshake and transport', () => {
  it('handshakes on first packet, delivers it, and carries traffic both ways', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP, payload('hello')));
    net.pump();
    assert.deepEqual(types(a).slice(0, 2), [MESSAGE_INITIATION, MESSAGE_TRANSPORT]);
    assert.deepEqual(types(b), [MESSAGE_RESPONSE]);
    assert.equal(b.tun.length, 1);
    assert.deepEqual(b.tun[0], ipv4Packet(A_IP, B_IP, payload('hello')));
    b.device.handleTunPacket(ipv4Packet(B_IP, A_IP, payload('world')));
    net.pump();
    assert.deepEqual(a.tun[0], ipv4Packet(B_IP, A_IP, payload('world')));
    assert.equal(a.device.peer(b.device.publicKey)!.stats.handshakesCompleted, 1);
    assert.equal(b.device.peer(a.device.publicKey)!.stats.handshakesCompleted, 1);
  });

  it('pads plaintext to a multiple of 16 and trims it on receipt', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP, payload('x'))); // 29 bytes
    net.pump();
    const transport = a.sent.find((p) => p.data[0] === MESSAGE_TRANSPORT && p.data.length > 32)!;
    assert.equal(transport.data.length, 16 + 32 + 16);
    assert.equal(b.tun[0]!.length, 29);
  });

  it('drops replayed transport packets', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    const data = a.sent.filter((p) => p.data[0] === MESSAGE_TRANSPORT).at(-1)!;
    b.device.handleDatagram(data.data, data.from);
    assert.equal(drops(b, 'replay'), 1);
    assert.equal(b.tun.length, 1);
  });

  it('drops packets whose inner source is not the sending peer (cryptokey routing)', () => {
    const { net, a, b } = pair();
    // a's allowed IPs on b's side are 10.0.0.1/32; route 10.0.0.0/24 at a so it sends spoofed traffic.
    a.device.addPeer({ publicKey: b.device.publicKey, allowedIps: ['10.0.0.0/24'] });
    a.device.handleTunPacket(ipv4Packet('10.0.0.99', B_IP));
    net.pump();
    assert.equal(b.tun.length, 0);
    assert.equal(drops(b, 'inner-source-mismatch'), 1);
  });

  it('drops tampered ciphertext and packets for unknown indices', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    const p = net.queue.shift()!;
    const tampered = Uint8Array.from(p.data);
    tampered[20]! ^= 1;
    b.device.handleDatagram(tampered, p.from);
    assert.equal(drops(b, 'decrypt-failed'), 1);
    const unknown = Uint8Array.from(p.data);
    unknown[4]! ^= 0xff;
    b.device.handleDatagram(unknown, p.from);
    assert.equal(drops(b, 'unknown-index'), 1);
  });

  it('refuses initiations from keys it does not know', () => {
    const net = new FakeNetwork();
    const a = net.addNode('a', '192.0.2.1');
    const b = net.addNode('b', '192.0.2.2');
    a.device.addPeer({ publicKey: b.device.publicKey, endpoint: b.endpoint, allowedIps: [`${B_IP}/32`] });
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    assert.equal(failures(b, 'unknown-key'), 1);
    assert.equal(b.sent.length, 0);
  });

  it('refuses a replayed initiation (TAI64N must grow)', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    const init = a.sent.find((p) => p.data[0] === MESSAGE_INITIATION)!;
    net.clock.advance(1000);
    b.device.handleDatagram(init.data, init.from);
    assert.equal(failures(b, 'stale-timestamp'), 1);
  });

  it('updates the peer endpoint from authenticated packets (roaming)', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    net.nodes.delete('192.0.2.1:51820');
    a.endpoint = { address: '198.51.100.7', port: 40000 };
    net.nodes.set('198.51.100.7:40000', a);
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    assert.deepEqual(b.device.peer(a.device.publicKey)!.endpoint, a.endpoint);
    b.device.handleTunPacket(ipv4Packet(B_IP, A_IP));
    net.pump();
    assert.equal(a.tun.length, 1);
  });
});

describe('WireGuardDevice timers', () => {
  it('sends a keepalive KEEPALIVE_TIMEOUT after receiving data without replying', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    const before = b.sent.length;
    net.run(9_000);
    assert.equal(b.sent.length, before);
    net.run(1_500);
    const keepalive = b.sent.slice(before).filter((p) => p.data[0] === MESSAGE_TRANSPORT && p.data.length === 32);
    assert.equal(keepalive.length, 1);
  });

  it('the initiator rekeys after REKEY_AFTER_TIME when it sends', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    net.run(121_000, 1000);
    const initiationsBefore = types(a).filter((t) => t === MESSAGE_INITIATION).length;
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    assert.equal(types(a).filter((t) => t === MESSAGE_INITIATION).length, initiationsBefore + 1);
    assert.equal(b.device.peer(a.device.publicKey)!.stats.handshakesCompleted, 2);
    assert.equal(b.tun.length, 2);
  });

  it('refuses to use a session after REJECT_AFTER_TIME, and handshakes again', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    // Capture a packet encrypted with the first session, then let the session age out.
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    const old = net.queue.shift()!;
    net.filter = () => false; // partition: no rekey can complete
    net.run(181_000, 1000);
    b.device.handleDatagram(old.data, old.from);
    assert.equal(drops(b, 'expired-keypair'), 1);
    net.filter = () => true;
    net.run(6_000, 1000);
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    assert.equal(b.tun.length, 2);
  });

  it('retransmits an unanswered initiation every REKEY_TIMEOUT and gives up after REKEY_ATTEMPT_TIME', () => {
    const { net, a } = pair();
    net.filter = (p) => p.to.address !== '192.0.2.2'; // b unreachable
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.run(30_000, 100);
    const afterThirty = types(a).filter((t) => t === MESSAGE_INITIATION).length;
    assert.ok(afterThirty >= 5 && afterThirty <= 7, `initiations in 30 s: ${afterThirty}`);
    net.run(90_000, 100);
    const total = types(a).filter((t) => t === MESSAGE_INITIATION).length;
    net.run(60_000, 100);
    assert.equal(types(a).filter((t) => t === MESSAGE_INITIATION).length, total, 'no initiations after giving up');
    assert.ok(total >= 18 && total <= 21, `total initiations: ${total}`);
    assert.equal(drops(a, 'handshake-gave-up'), 1);
    assert.equal(failures(a, 'timeout'), 1);
  });

  it('sends persistent keepalives at the configured interval', () => {
    const { net, a, b } = pair();
    a.device.addPeer({ publicKey: b.device.publicKey, persistentKeepaliveSeconds: 25 });
    net.pump();
    const count = (): number => a.sent.filter((p) => p.data[0] === MESSAGE_TRANSPORT && p.data.length === 32).length;
    const first = count();
    assert.equal(first, 1);
    net.run(100_000, 500);
    assert.ok(count() >= 4 && count() <= 5, `keepalives: ${count()}`);
  });

  it('rekeys after REKEY_AFTER_MESSAGES and never sends past REJECT_AFTER_MESSAGES', () => {
    const { net, a, b } = pair({ limits: { rekeyAfterMessages: 5, rejectAfterMessages: 8 } });
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    // From now on b's responses are lost, so the session a rekeys from stays the only one.
    net.filter = (p) => p.data[0] !== MESSAGE_RESPONSE;
    net.clock.advance(6_000); // past REKEY_TIMEOUT, so a rekey may be sent at once
    for (let i = 1; i < 12; i++) {
      a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
      net.pump();
    }
    const peer = a.device.peer(b.device.publicKey)!;
    assert.ok(peer.keypairs.current!.sendCounter <= 8);
    const delivered = (): number => b.tun.length;
    assert.equal(delivered(), 8, 'exactly the packets below the reject limit were delivered');
    assert.ok(types(a).filter((t) => t === MESSAGE_INITIATION).length >= 2, 'a rekey was attempted');
    net.filter = () => true;
    net.run(6_000, 1000);
    assert.ok(delivered() > 8, 'staged packets flow once the new session is up');
  });
});

describe('WireGuardDevice receive limits', () => {
  it('drops transport packets whose counter reaches REJECT_AFTER_MESSAGES on the receiving side', () => {
    const { net, a, b } = pair({}, { limits: { rejectAfterMessages: 6 } });
    for (let i = 0; i < 10; i++) {
      a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
      net.pump();
    }
    // Counters 0–5 are accepted (the first carries the staged packet); 6–9 are refused unopened.
    assert.equal(b.tun.length, 6);
    assert.equal(drops(b, 'counter-limit'), 4);
  });
});

describe('WireGuardDevice under load', () => {
  it('answers with a cookie reply, and completes the handshake once MAC2 carries the cookie', () => {
    const { net, a, b } = pair({}, { underLoadHandshakesPerSecond: 0 });
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.pump();
    assert.deepEqual(types(b), [MESSAGE_COOKIE_REPLY]);
    assert.equal(failures(b, 'cookie-required'), 1);
    assert.equal(b.tun.length, 0);
    net.run(6_000, 500);
    assert.equal(b.tun.length, 1);
    assert.ok(types(b).includes(MESSAGE_RESPONSE));
  });

  it('rate-limits a flood of initiations from one source before any Diffie-Hellman', () => {
    const limiter = new SourceRateLimiter();
    const { net, a, b } = pair({}, { rateLimiter: limiter });
    const attacker = net.addNode('x', '203.0.113.66');
    attacker.device.addPeer({ publicKey: b.device.publicKey, endpoint: b.endpoint, allowedIps: ['10.0.0.0/24'] });
    for (let i = 0; i < 200; i++) {
      attacker.device.setPrivateKey(x25519.utils.randomSecretKey());
      attacker.device.initiateHandshake(b.device.publicKey);
    }
    net.pump();
    // Only the per-source burst (8) reaches the Diffie-Hellman step; the rest is refused by
    // the rate limiter, or by the cookie demand once the flood put the device under load.
    assert.equal(failures(b, 'unknown-key'), 8);
    assert.equal(failures(b, 'rate-limited') + failures(b, 'cookie-required'), 192);
    assert.ok(failures(b, 'cookie-required') > 0, 'the flood put the device under load');
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    net.run(6_000, 500);
    assert.equal(b.tun.length, 1, 'a legitimate peer from another source still gets through');
  });

  it('drops handshake messages with a bad MAC1 without further work', () => {
    const { net, a, b } = pair();
    a.device.handleTunPacket(ipv4Packet(A_IP, B_IP));
    const init = net.queue.shift()!;
    const bad = Uint8Array.from(init.data);
    bad[120]! ^= 1;
    b.device.handleDatagram(bad, init.from);
    assert.equal(failures(b, 'bad-mac1'), 1);
    assert.equal(b.sent.length, 0);
  });
});
