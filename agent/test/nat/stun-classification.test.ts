import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concatBytes } from '@meshguard/core';
import { classifyNat, stunAnswerProblem, type StunObservation } from '../../src/nat/nat-classification.js';
import { STUN_GIVE_UP_MS, StunProbe } from '../../src/nat/stun-probe.js';
import type { UdpEndpoint } from '../../src/wireguard/endpoint.js';

const A: UdpEndpoint = { address: '203.0.113.10', port: 3478 };
const B: UdpEndpoint = { address: '203.0.113.11', port: 3478 };
const obs = (server: UdpEndpoint, address: string, port: number): StunObservation => ({
  server,
  mapped: { address, port },
});

/** A Binding Success for `txid` carrying XOR-MAPPED-ADDRESS `address:port`. */
function answer(txid: Uint8Array, address: string, port: number): Uint8Array {
  const a = address.split('.').map(Number);
  const value = Uint8Array.of(
    0,
    1,
    (port ^ 0x2112) >> 8,
    (port ^ 0x2112) & 0xff,
    a[0]! ^ 0x21,
    a[1]! ^ 0x12,
    a[2]! ^ 0xa4,
    a[3]! ^ 0x42,
  );
  return concatBytes(
    Uint8Array.of(0x01, 0x01, 0, 12, 0x21, 0x12, 0xa4, 0x42),
    txid,
    Uint8Array.of(0, 0x20, 0, 8),
    value,
  );
}

describe('NAT classification', () => {
  it('two agreeing answers naming a local address and our port: public', () => {
    const c = classifyNat([obs(A, '198.51.100.7', 51821), obs(B, '198.51.100.7', 51821)], ['198.51.100.7'], 51821);
    assert.equal(c.natType, 'public');
    assert.deepEqual(c.publicEndpoint, { address: '198.51.100.7', port: 51821 });
  });

  it('agreement on an address that is not ours is cone — even when the NAT kept our port', () => {
    // The reference calls this public because it compares only ports.
    const c = classifyNat([obs(A, '198.51.100.7', 51821), obs(B, '198.51.100.7', 51821)], ['10.1.0.2'], 51821);
    assert.equal(c.natType, 'cone');
    assert.deepEqual(c.publicEndpoint, { address: '198.51.100.7', port: 51821 });
  });

  it('the same address with a different port per server: symmetric, with no endpoint to advertise', () => {
    const c = classifyNat([obs(A, '198.51.100.7', 40001), obs(B, '198.51.100.7', 40002)], ['10.1.0.2'], 51821);
    assert.equal(c.natType, 'symmetric');
    assert.equal(c.publicEndpoint, null);
  });

  it('servers disagreeing on our address give unknown, never a type', () => {
    const c = classifyNat([obs(A, '198.51.100.7', 51821), obs(B, '192.0.2.99', 51821)], ['10.1.0.2'], 51821);
    assert.equal(c.natType, 'unknown');
    assert.match(c.reason, /disagree/);
  });

  it('fewer than two answers give unknown', () => {
    assert.equal(classifyNat([], [], 51821).natType, 'unknown');
    assert.equal(classifyNat([obs(A, '198.51.100.7', 51821)], ['198.51.100.7'], 51821).natType, 'unknown');
  });

  it('absurd mapped addresses are refused', () => {
    for (const address of ['0.0.0.0', '127.0.0.1', '169.254.1.1', '224.0.0.1', '255.255.255.255', '10.99.1.2']) {
      assert.notEqual(stunAnswerProblem({ address, port: 5000 }), null, address);
    }
    assert.notEqual(stunAnswerProblem({ address: '198.51.100.7', port: 0 }), null);
    assert.equal(stunAnswerProblem({ address: '198.51.100.7', port: 5000 }), null);
    assert.equal(stunAnswerProblem({ address: '192.168.1.5', port: 5000 }), null, 'a LAN STUN server is fine');
  });
});

describe('StunProbe', () => {
  const txids: Uint8Array[] = [];
  const random = (n: number): Uint8Array => {
    const t = Uint8Array.from({ length: n }, (_, i) => i + 16 * txids.length);
    txids.push(t);
    return t;
  };

  it('asks every server at once, retransmits twice, and gives up', () => {
    txids.length = 0;
    const p = new StunProbe([A, B], random, 0);
    assert.deepEqual(
      p.tick(0).map((d) => d.to),
      [A, B],
    );
    assert.equal(p.tick(499).length, 0);
    assert.equal(p.tick(500).length, 2);
    assert.equal(p.tick(1500).length, 2);
    assert.equal(p.tick(3000).length, 0, 'three sends per server at most');
    assert.equal(p.done, false);
    p.tick(STUN_GIVE_UP_MS);
    assert.equal(p.done, true);
    assert.deepEqual(p.observations, []);
    assert.equal(p.problems.length, 2);
  });

  it('takes an answer only with the transaction ID sent to that server, from that server', () => {
    txids.length = 0;
    const p = new StunProbe([A, B], random, 0);
    p.tick(0);
    const [txA, txB] = txids as [Uint8Array, Uint8Array];
    // Right ID, wrong source; wrong ID, right source: neither counts.
    assert.equal(p.handle(answer(txA, '198.51.100.66', 1), { address: '192.0.2.1', port: 3478 }), false);
    assert.equal(p.handle(answer(txB, '198.51.100.66', 1), A), false);
    assert.equal(p.handle(answer(txA, '198.51.100.7', 51821), A), true);
    assert.equal(p.done, false);
    assert.equal(p.handle(answer(txB, '198.51.100.7', 51821), B), true);
    assert.equal(p.done, true);
    assert.deepEqual(
      p.observations.map((o) => o.mapped),
      [
        { address: '198.51.100.7', port: 51821 },
        { address: '198.51.100.7', port: 51821 },
      ],
    );
  });

  it('an absurd answer ends that server with a problem instead of an observation', () => {
    txids.length = 0;
    const p = new StunProbe([A, B], random, 0);
    p.tick(0);
    assert.equal(p.handle(answer(txids[0]!, '127.0.0.1', 51821), A), true);
    assert.equal(p.handle(answer(txids[1]!, '198.51.100.7', 51821), B), true);
    assert.equal(p.observations.length, 1);
    assert.match(p.problems[0]!, /loopback/);
  });
});
