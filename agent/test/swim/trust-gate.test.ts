import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeSwimMessage } from '../../src/swim/swim-codec.js';
import { seededKeyPair } from '../../src/sim/mesh-builder.js';
import { SeededRandom } from '../../src/swim/random-source.js';
import { eventsOf, Harness } from './node-harness.js';

describe('SwimNode trust gate', () => {
  it('a Ping from an unknown key changes nothing and gets no answer', () => {
    const h = new Harness();
    const known = h.peer(1);
    h.introduce(known);
    h.takeSent();
    h.takeEvents();
    const stranger = h.stranger();
    h.ping(stranger, [h.entry(known, 'dead'), h.entry(h.peer(2), 'alive')], { certificate: false });
    assert.equal(h.node.member(stranger.keys.publicKey), undefined);
    assert.equal(h.node.member(h.peer(2).keys.publicKey), undefined, 'its gossip is not applied either');
    assert.equal(h.takeSent().length, 0);
    assert.deepEqual(h.takeEvents(), []);
    h.advanceAnswering(3000, [known]);
    assert.equal(h.node.stats().counters.confirmations, 0, 'its dead claim triggered nothing');
    assert.equal(h.state(known), 'alive');
  });

  it('a certificate from an untrusted org, for another node, or with a bad signature admits nobody', () => {
    const h = new Harness();
    const other = new Harness({ seed: 99 }); // a different org
    const outsider = other.peer(1);
    const victim = h.peer(1);
    h.ping(outsider, [], { certificate: true });
    const forged = Uint8Array.from(victim.certificate);
    forged[150] = forged[150]! ^ 1;
    const { keys } = h.stranger();
    h.deliver(
      encodeSwimMessage({
        kind: 'ping',
        senderPublicKey: victim.keys.publicKey,
        seq: 1n,
        incarnation: 0n,
        gossip: [],
        certificate: forged,
      }),
      victim.endpoint,
    );
    h.deliver(
      encodeSwimMessage({
        kind: 'ping',
        senderPublicKey: keys.publicKey,
        seq: 1n,
        incarnation: 0n,
        gossip: [],
        certificate: victim.certificate,
      }),
      victim.endpoint,
    );
    assert.equal(h.node.stats().members, 0);
    assert.equal(h.sent.length, 0);
    assert.equal(h.node.stats().counters.refused, 3);
  });

  it('a flood of Pings from unknown keys (with junk certificates and gossip) leaves every table bounded', () => {
    const h = new Harness({ config: { refusedCacheSize: 256 } });
    const known = h.peer(1);
    h.introduce(known);
    const random = new SeededRandom(5);
    const junkCert = new Uint8Array(314);
    junkCert[0] = 2;
    junkCert.set(h.org.publicKey, 1);
    for (let i = 0; i < 3000; i++) {
      const sender = new Uint8Array(32).map(() => random.nextUint32() & 0xff);
      junkCert.set(sender, 33);
      junkCert[200] = i & 0xff;
      const subject = new Uint8Array(32).map(() => random.nextUint32() & 0xff);
      h.deliver(
        encodeSwimMessage({
          kind: i % 2 === 0 ? 'ping' : 'ack',
          senderPublicKey: sender,
          seq: BigInt(i),
          incarnation: 0n,
          gossip: [{ ...h.entry(known, 'alive'), subjectPublicKey: subject }],
          certificate: i % 3 === 0 ? null : junkCert,
        }),
        { address: `203.0.113.${i % 250}`, port: 1000 + i },
      );
      if (i % 100 === 0) h.advance(50);
    }
    const stats = h.node.stats();
    assert.equal(stats.members, 1);
    assert.equal(stats.quarantine, 0);
    assert.equal(stats.broadcasts <= 2, true);
    assert.ok(stats.refusedKeys <= 256, `refused keys: ${stats.refusedKeys}`);
    assert.ok(stats.refusedCertificates <= 256, `refused certificates: ${stats.refusedCertificates}`);
    assert.equal(stats.relays, 0);
    assert.ok(stats.timers < 20);
    assert.equal(h.sent.filter((s) => s.to.address.startsWith('203.0.113.')).length, 0, 'no answers to strangers');
  });

  it('gossip from an admitted member about unadmittable subjects fills at most the bounded quarantine', () => {
    const h = new Harness({ config: { quarantineCapacity: 16 } });
    const a = h.peer(1);
    h.introduce(a);
    const keys = new SeededRandom(11);
    for (let i = 0; i < 400; i++) {
      const subject = seededKeyPair(keys);
      h.ping(a, [
        {
          ...h.entry(a, 'alive'),
          subjectPublicKey: subject.publicKey,
          endpoint: { family: 4, address: '198.51.100.1', port: 2000 + i },
        },
      ]);
    }
    assert.equal(h.node.stats().members, 1);
    assert.equal(h.node.stats().quarantine, 16);
  });

  it('an unadmitted gossip subject is probed without gossip about others but with our certificate, and admitted by the certificate in its Ack', () => {
    const h = new Harness();
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.takeSent();
    h.ping(a, [h.entry(b, 'alive')]); // b's certificate cannot travel in gossip
    assert.equal(h.node.member(b.keys.publicKey), undefined);
    assert.equal(h.node.stats().quarantine, 1);
    h.advance(300);
    const probes = h.sentTo(b, 'ping');
    assert.equal(probes.length, 1);
    // Nothing about other members: only our own entry and the candidate's.
    const subjects = probes[0]!.gossip.map((e) => Buffer.from(e.subjectPublicKey).toString('hex')).sort();
    assert.deepEqual(
      subjects,
      [h.self.keys.publicKey, b.keys.publicKey].map((k) => Buffer.from(k).toString('hex')).sort(),
    );
    assert.notEqual(probes[0]!.certificate, null);
    h.ack(b, probes[0]!.seq, [h.selfEntry(b)]);
    assert.equal(h.state(b), 'alive');
    assert.equal(h.node.stats().quarantine, 0);
  });

  it('a subject our Pings cannot reach is introduced by the member that told us of it, at its gossiped address', () => {
    const h = new Harness();
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.takeSent();
    h.ping(a, [h.entry(b, 'alive')]);
    h.advance(1500); // b never answers: the second try also asks a for an introduction
    const requests = h.sentTo(a, 'ping-req');
    assert.equal(requests.length, 1);
    const request = requests[0]!;
    assert.ok(request.seq >= 1n << 63n, 'an introduction request sets the top seq bit');
    assert.deepEqual(request.targetPublicKey, b.keys.publicKey);
    // From a, but for another seq: not an introduction (an ordinary Ack from a's address).
    h.ack(b, request.seq ^ 1n, [h.selfEntry(b)], { from: a.endpoint, certificate: false });
    assert.equal(h.state(b), undefined);
    // From a: admitted by b's certificate, registered at the gossiped address, not a's.
    h.ack(b, request.seq, [h.selfEntry(b)], { from: a.endpoint });
    assert.equal(h.state(b), 'alive');
    assert.deepEqual(h.node.member(b.keys.publicKey)?.endpoint, b.endpoint);
    assert.equal(h.node.stats().counters.introducedByHelpers, 1);
    // Without a valid certificate an introduction admits nobody.
    const c = h.peer(3);
    h.ping(a, [h.entry(c, 'alive')]);
    const forC = h
      .advanceAnswering(1500, [a])
      .map((x) => x.message)
      .find((m) => m?.kind === 'ping-req' && Buffer.from(m.targetPublicKey).equals(c.keys.publicKey));
    assert.ok(forC?.kind === 'ping-req');
    h.ack(c, forC.seq, [h.selfEntry(c)], { from: a.endpoint, certificate: false });
    assert.equal(h.state(c), undefined);
  });

  it('requestIntroduction: a key we never heard of is introduced through a live member, at the address it gives', () => {
    const h = new Harness();
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.takeSent();
    assert.equal(h.node.requestIntroduction(b.keys.publicKey, { address: '198.51.100.66', port: 1 }), false);
    assert.equal(h.node.requestIntroduction(b.keys.publicKey, a.endpoint), true);
    assert.equal(h.node.requestIntroduction(b.keys.publicKey, a.endpoint), false, 'once per cooldown');
    const request = h.sentTo(a, 'ping-req')[0]!;
    h.ack(b, request.seq, [h.selfEntry(b)], { from: a.endpoint });
    assert.equal(h.state(b), 'alive');
    assert.deepEqual(h.node.member(b.keys.publicKey)?.endpoint, b.endpoint);
  });

  it('as a helper, answers an introduction request with the target’s own Ack and certificate', () => {
    const h = new Harness();
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    h.takeSent();
    const seq = (1n << 63n) | 77n;
    h.pingReq(a, b, seq);
    const ping = h.sentTo(b, 'ping')[0]!;
    h.takeSent();
    h.ack(b, ping.seq, [h.selfEntry(b)]);
    const answers = h.sentTo(a, 'ack');
    assert.equal(answers.length, 1);
    const answer = answers[0]!;
    assert.equal(answer.seq, seq);
    assert.deepEqual(answer.senderPublicKey, b.keys.publicKey);
    assert.deepEqual(answer.certificate, b.certificate);
    // An ordinary PingReq still gets our own Ack, as before.
    h.takeSent();
    h.pingReq(a, b, 78n);
    const ping2 = h.sentTo(b, 'ping')[0]!;
    h.takeSent();
    h.ack(b, ping2.seq, [h.selfEntry(b)]);
    assert.deepEqual(h.sentTo(a, 'ack')[0]!.senderPublicKey, h.self.keys.publicKey);
  });

  it('open mode caps how fast unauthenticated members can be added', () => {
    const h = new Harness({
      trust: 'open',
      config: { unauthenticatedGrowthBurst: 10, unauthenticatedGrowthPerSecond: 5 },
    });
    const keys = new SeededRandom(3);
    for (let i = 0; i < 100; i++) h.ping({ ...h.stranger(), keys: seededKeyPair(keys) }, [], { certificate: false });
    assert.equal(h.node.stats().members, 10);
    h.advance(2000);
    for (let i = 0; i < 100; i++) h.ping({ ...h.stranger(), keys: seededKeyPair(keys) }, [], { certificate: false });
    assert.equal(h.node.stats().members, 20);
    assert.ok(h.node.stats().counters.refusedGrowth >= 180);
  });

  it('the first gossiped WireGuard key binds once; later gossip cannot change it', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.ping(a, [], { certificate: false });
    h.ping(a, [{ ...h.entry(b, 'alive'), wgPublicKey: new Uint8Array(32).fill(7) }]);
    h.ping(a, [{ ...h.entry(b, 'alive', b.incarnation + 1n), wgPublicKey: new Uint8Array(32).fill(8) }]);
    assert.deepEqual(h.node.member(b.keys.publicKey)?.wgPublicKey, new Uint8Array(32).fill(7));
    assert.equal(h.node.member(b.keys.publicKey)?.wgKeySource, 'gossip');
    const adds = eventsOf(h.events, 'wg-peer-add').filter((e) => Buffer.from(e.publicKey).equals(b.keys.publicKey));
    assert.equal(adds.length, 1);
    assert.deepEqual(adds[0]!.wgPublicKey, new Uint8Array(32).fill(7));
    assert.equal(eventsOf(h.events, 'wg-peer-replace').length, 0);
  });

  it('a valid v2 certificate overrides a gossiped WireGuard key, and the daemon is told to replace the peer', () => {
    const h = new Harness({ trust: 'open-org' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.ping(a, [], { certificate: false });
    const wrong = new Uint8Array(32).fill(7);
    h.ping(a, [{ ...h.entry(b, 'alive'), wgPublicKey: wrong }]);
    assert.deepEqual(h.node.member(b.keys.publicKey)?.wgPublicKey, wrong);
    h.ping(b, [], { certificate: true });
    assert.deepEqual(h.node.member(b.keys.publicKey)?.wgPublicKey, b.wgPublicKey);
    assert.equal(h.node.member(b.keys.publicKey)?.wgKeySource, 'certificate');
    const bound = eventsOf(h.events, 'wg-key-bound').filter((e) => Buffer.from(e.publicKey).equals(b.keys.publicKey));
    assert.deepEqual(
      bound.map((e) => e.source),
      ['gossip', 'certificate'],
    );
    assert.deepEqual(bound[1]!.previous, wrong);
    const replaced = eventsOf(h.events, 'wg-peer-replace');
    assert.equal(replaced.length, 1);
    assert.deepEqual(replaced[0]!.previous, wrong);
    assert.deepEqual(replaced[0]!.wgPublicKey, b.wgPublicKey);
    // Gossip cannot take it back.
    h.ping(a, [{ ...h.entry(b, 'alive', b.incarnation + 5n), wgPublicKey: wrong }]);
    assert.deepEqual(h.node.member(b.keys.publicKey)?.wgPublicKey, b.wgPublicKey);
  });

  it('a tampered certificate binds nothing, even when open mode admits its sender', () => {
    const h = new Harness({ trust: 'open-org' });
    const b = h.peer(2);
    const tampered = Uint8Array.from(b.certificate);
    tampered[190] = tampered[190]! ^ 0xff; // inside the signed WireGuard key
    h.deliver(
      encodeSwimMessage({
        kind: 'ping',
        senderPublicKey: b.keys.publicKey,
        seq: 1n,
        incarnation: 0n,
        gossip: [],
        certificate: tampered,
      }),
      b.endpoint,
    );
    assert.equal(h.state(b), 'alive');
    assert.equal(h.node.member(b.keys.publicKey)?.wgPublicKey, null);
    assert.equal(h.node.stats().refusedCertificates, 1);
  });
});

describe('decoder robustness at the node', () => {
  it('any datagram is either handled or dropped, never thrown, and never grows the tables', () => {
    const h = new Harness();
    const a = h.peer(1);
    h.introduce(a);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), fc.integer({ min: 0, max: 0x43 }), (bytes, tag) => {
        const datagram = Uint8Array.from(bytes);
        if (datagram.length > 0) datagram[0] = tag;
        h.deliver(datagram, { address: '198.51.100.7', port: 9 });
        const s = h.node.stats();
        return s.members === 1 && s.quarantine === 0;
      }),
      { numRuns: 500 },
    );
  });
});
