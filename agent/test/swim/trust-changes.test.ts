import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeNodeCertificate, issueCertificate, TrustSet } from '@meshguard/core';
import { SeededRandom } from '../../src/swim/random-source.js';
import { ManualClock } from '../../src/swim/swim-clock.js';
import { encodeSwimMessage } from '../../src/swim/swim-codec.js';
import { SwimNode } from '../../src/swim/swim-node.js';
import { EPOCH_MS, eventsOf, Harness } from './node-harness.js';

describe('SwimNode and changing trust', () => {
  it('a member admitted by a certificate that expires is dead (untrusted) once it has expired', () => {
    const h = new Harness();
    const p = h.peer(1);
    // The only certificate it ever presents runs out 30 s from now.
    const a = {
      ...p,
      certificate: encodeNodeCertificate(
        issueCertificate(h.org, {
          nodePublicKey: p.keys.publicKey,
          nodeName: 'brief',
          issuedAt: BigInt(EPOCH_MS / 1000 - 10),
          expiresAt: BigInt(EPOCH_MS / 1000 + 30),
          wgPublicKey: p.wgPublicKey,
        }),
      ),
    };
    h.introduce(a);
    assert.equal(h.state(a), 'alive');
    h.advanceAnswering(25_000, [a]);
    assert.equal(h.state(a), 'alive');
    h.advanceAnswering(20_000, [a]);
    assert.equal(h.state(a), 'dead');
    const death = eventsOf(h.events, 'member-dead')[0]!;
    assert.equal(death.cause, 'untrusted');
    assert.equal(eventsOf(h.events, 'wg-peer-remove').length, 1);
  });

  it('trustChanged() re-judges every member at once (e.g. after trust files were reloaded)', () => {
    const clock = new ManualClock(0, EPOCH_MS);
    const sent: Uint8Array[] = [];
    const h = new Harness();
    const a = h.peer(1);
    const authorized = [{ name: 'a', publicKey: a.keys.publicKey }];
    let trust = new TrustSet({ self: h.self.keys.publicKey, authorizedKeys: authorized });
    const events: string[] = [];
    const node = new SwimNode({
      identity: { publicKey: h.self.keys.publicKey, wgPublicKey: null, certificate: null },
      trust: {
        decide: (q) => trust.decide(q),
        applyRevocation: (m) => trust.applyRevocation(m),
        applyVouch: (m) => trust.applyVouch(m),
        isTrustedOrg: (o) => trust.isTrustedOrg(o),
        isRevoked: (o, n) => trust.isRevoked(o, n),
      },
      clock,
      random: new SeededRandom(1),
      send: (b) => sent.push(b),
      onEvent: (e) => events.push(e.type),
    });
    node.handleDatagram(
      encodeSwimMessage({
        kind: 'ping',
        senderPublicKey: a.keys.publicKey,
        seq: 1n,
        incarnation: 0n,
        gossip: [],
        certificate: null,
      }),
      a.endpoint,
    );
    assert.equal(node.member(a.keys.publicKey)?.state, 'alive');
    trust = new TrustSet({ self: h.self.keys.publicKey, authorizedKeys: [] });
    node.trustChanged();
    assert.equal(node.member(a.keys.publicKey)?.state, 'dead');
    assert.ok(events.includes('member-dead'));
  });
});

describe('control-plane send limiter (spec §7.1: 500 packets/s, burst 100)', () => {
  it('drops what exceeds the budget instead of queueing it', () => {
    const h = new Harness({ trust: 'open' });
    const a = h.peer(1);
    h.introduce(a);
    h.takeSent();
    for (let i = 0; i < 300; i++) h.ping(a);
    assert.ok(h.sent.length <= 100, `sent ${h.sent.length}`);
    assert.ok(h.node.stats().counters.sendDropped >= 200);
    h.takeSent();
    h.advance(100); // 50 tokens back
    for (let i = 0; i < 300; i++) h.ping(a);
    assert.ok(h.sent.length <= 55, `sent ${h.sent.length} after 100 ms`);
  });
});
