import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesEqual } from '@meshguard/core';
import { encodeRelayFrame } from '../../src/nat/relay-codec.js';
import { isRelayEndpoint, RelayRoutes } from '../../src/nat/relay-routes.js';
import { RelayService, type RelayMember } from '../../src/nat/relay-service.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);
const ep = (address: string): UdpEndpoint => ({ address, port: 51821 });
const SELF = key(1);
const A = key(0x0a);
const B = key(0x0b);
const A_AT = ep('198.51.100.1');
const B_AT = ep('198.51.100.2');
const WG = Uint8Array.of(4, 0, 0, 0, ...new Array<number>(28).fill(9));

function relay(limits = {}) {
  const members = new Map<string, RelayMember>([
    [A.toString(), { endpoint: A_AT, live: true }],
    [B.toString(), { endpoint: B_AT, live: true }],
  ]);
  const forwarded: Array<{ bytes: Uint8Array; to: UdpEndpoint }> = [];
  const delivered: Array<{ sender: Uint8Array; relay: UdpEndpoint }> = [];
  const unknown: Array<{ sender: Uint8Array; relay: UdpEndpoint }> = [];
  const service = new RelayService(
    {
      self: SELF,
      member: (k) => members.get(k.toString()) ?? null,
      isLiveMemberAt: (from) => [...members.values()].some((m) => m.endpoint?.address === from.address),
      forward: (bytes, to) => forwarded.push({ bytes, to }),
      deliver: (_payload, sender, via) => delivered.push({ sender, relay: via }),
      unknownSender: (sender, via) => unknown.push({ sender, relay: via }),
    },
    limits,
  );
  return { service, members, forwarded, delivered, unknown };
}

const frame = (sender: Uint8Array, target: Uint8Array): Uint8Array =>
  encodeRelayFrame({ senderPublicKey: sender, targetPublicKey: target, payload: WG });

describe('RelayService', () => {
  it('forwards a frame between two live members byte for byte', () => {
    const { service, forwarded } = relay();
    const f = frame(A, B);
    service.handleFrame(f, A_AT, 0);
    assert.equal(forwarded.length, 1);
    assert.deepEqual(forwarded[0]!.bytes, f);
    assert.deepEqual(forwarded[0]!.to, B_AT);
    assert.equal(service.stats.bytesForwarded, f.length);
  });

  it('refuses a claimed sender speaking from another address, strangers, dead members and non-WireGuard payloads', () => {
    const { service, members, forwarded } = relay();
    service.handleFrame(frame(A, B), ep('192.0.2.66'), 0);
    service.handleFrame(frame(key(0x99), B), ep('192.0.2.66'), 0);
    service.handleFrame(frame(A, key(0x99)), A_AT, 0);
    members.set(B.toString(), { endpoint: B_AT, live: false });
    service.handleFrame(frame(A, B), A_AT, 0);
    const notWireGuard = frame(A, B);
    notWireGuard[67] = 0x50;
    service.handleFrame(notWireGuard, A_AT, 0);
    assert.equal(forwarded.length, 0);
    assert.deepEqual(service.stats.dropped, {
      'sender not at its known address': 1,
      'sender not a live member': 1,
      'target not a live member': 2,
      malformed: 1,
    });
  });

  it('rate-limits each sender to its burst, then its rate', () => {
    const { service, forwarded } = relay({ framesPerSecond: 50, burst: 100 });
    for (let i = 0; i < 150; i++) service.handleFrame(frame(A, B), A_AT, 0);
    assert.equal(forwarded.length, 100);
    service.handleFrame(frame(A, B), A_AT, 19);
    assert.equal(forwarded.length, 100);
    service.handleFrame(frame(A, B), A_AT, 20);
    assert.equal(forwarded.length, 101);
    // Another sender has its own budget.
    service.handleFrame(frame(B, A), B_AT, 20);
    assert.equal(forwarded.length, 102);
  });

  it('serves at most `capacity` pairs; an idle pair frees its slot', () => {
    const { service, forwarded } = relay({ capacity: 1, pairIdleMs: 1000 });
    service.handleFrame(frame(A, B), A_AT, 0);
    service.handleFrame(frame(B, A), B_AT, 0);
    assert.equal(forwarded.length, 1);
    assert.equal(service.stats.dropped['relay at capacity'], 1);
    service.handleFrame(frame(B, A), B_AT, 1000);
    assert.equal(forwarded.length, 2);
  });

  it('a frame for us from a key we do not know, through a live member, asks for an introduction', () => {
    const { service, delivered, unknown } = relay();
    service.handleFrame(frame(key(0x77), SELF), B_AT, 0);
    service.handleFrame(frame(key(0x77), SELF), ep('192.0.2.66'), 0); // not through a member: ignored
    assert.equal(delivered.length, 0);
    assert.equal(unknown.length, 1);
    assert.deepEqual(unknown[0]!.relay, B_AT);
  });

  it('takes frames addressed to us only through a live member', () => {
    const { service, delivered } = relay();
    service.handleFrame(frame(A, SELF), ep('192.0.2.66'), 0);
    assert.equal(delivered.length, 0);
    service.handleFrame(frame(A, SELF), B_AT, 0);
    assert.equal(delivered.length, 1);
    assert.ok(bytesEqual(delivered[0]!.sender, A));
    assert.deepEqual(delivered[0]!.relay, B_AT);
  });
});

describe('RelayRoutes', () => {
  it('gives each relayed peer a stable virtual endpoint in 100::/64 and follows relay changes', () => {
    const routes = new RelayRoutes();
    const a = routes.route(A, A_AT);
    const b = routes.route(B, A_AT);
    assert.ok(isRelayEndpoint(a.virtual) && isRelayEndpoint(b.virtual));
    assert.notDeepEqual(a.virtual, b.virtual);
    assert.equal(routes.route(A, B_AT).virtual, a.virtual);
    assert.deepEqual(routes.forVirtual(a.virtual)?.relay, B_AT);
    routes.forget(A);
    assert.equal(routes.forVirtual(a.virtual), undefined);
    assert.equal(isRelayEndpoint(A_AT), false);
  });
});
