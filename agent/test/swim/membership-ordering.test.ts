import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EPOCH_MS, eventsOf, Harness } from './node-harness.js';

describe('SwimNode membership: first contact and gossip ordering', () => {
  it('registers an admitted sender on its first Ping, answers with an Ack echoing the seq, and introduces it', () => {
    const h = new Harness();
    const a = h.peer(1);
    const seq = h.ping(a, [h.selfEntry(a)]);
    assert.equal(h.state(a), 'alive');
    assert.equal(h.node.member(a.keys.publicKey)?.incarnation, a.incarnation);
    const acks = h.sentTo(a, 'ack');
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.seq, seq);
    // Our self entry goes to a newcomer directly, with our WireGuard key and certificate.
    assert.ok(
      acks[0]!.gossip.some((e) => e.event === 'alive' && Buffer.from(e.subjectPublicKey).equals(h.self.keys.publicKey)),
    );
    assert.notEqual(acks[0]!.certificate, null);
    assert.equal(eventsOf(h.events, 'member-joined').length, 1);
    // The v2 certificate binds its WireGuard key, and the daemon is told to add the peer.
    const bound = eventsOf(h.events, 'wg-key-bound');
    assert.equal(bound.length, 1);
    assert.equal(bound[0]!.source, 'certificate');
    assert.equal(eventsOf(h.events, 'wg-peer-add').length, 1);
  });

  it('learns an admitted gossip subject, and ignores gossip with an older incarnation', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.ping(a, [h.entry(b, 'alive', 50n)]);
    assert.equal(h.state(b), 'alive');
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, 50n);
    h.ping(a, [h.entry(b, 'alive', 40n)]);
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, 50n, 'stale alive is ignored');
    h.ping(a, [h.entry(b, 'alive', 60n)]);
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, 60n, 'newer alive is applied');
    assert.ok(h.node.stats().counters.staleIgnored >= 1);
  });

  it('gossip never changes a member the table already has by a join, nor at an equal incarnation', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    h.takeEvents();
    h.ping(a, [h.entry(b, 'join', b.incarnation + 10n)]);
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, b.incarnation, 'join only introduces');
    assert.deepEqual(
      h.takeEvents().filter((e) => e.type.startsWith('member-')),
      [],
    );
  });

  it('refutes a suspicion of itself by outbidding its incarnation, and gossips the new one', () => {
    const h = new Harness();
    const a = h.peer(1);
    h.introduce(a);
    const before = h.node.incarnation;
    h.takeSent();
    const seq = h.ping(a, [h.entry(h.self, 'suspect', before + 5n)]);
    assert.equal(h.node.incarnation, before + 6n);
    const ack = h.sentTo(a, 'ack').find((m) => m.seq === seq)!;
    const own = ack.gossip.find((e) => Buffer.from(e.subjectPublicKey).equals(h.self.keys.publicKey))!;
    assert.equal(own.event, 'alive');
    assert.equal(own.lamport, before + 6n);
    assert.equal(h.node.stats().counters.refutations, 1);
    assert.equal(h.node.awareness, 1, 'being suspected raises our local health score');
  });

  it('ignores a stale suspicion of itself and caps how far a claim can push its incarnation', () => {
    const h = new Harness();
    const a = h.peer(1);
    h.introduce(a);
    const start = h.node.incarnation;
    h.ping(a, [h.entry(h.self, 'dead', start - 1n)]);
    assert.equal(h.node.incarnation, start, 'older claim: nothing to refute');
    h.ping(a, [h.entry(h.self, 'dead', (1n << 64n) - 1n)]);
    assert.equal(h.node.incarnation, start + (1n << 30n) + 1n, 'jump capped at 2^30 (spec §7.1)');
  });

  it('ignores gossip that would move a member’s incarnation further than a refutation can follow', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    const far = b.incarnation + (1n << 31n);
    h.ping(a, [h.entry(b, 'alive', far), h.entry(b, 'suspect', far)]);
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, b.incarnation);
    h.advanceAnswering(2000, [a, b]);
    assert.equal(h.node.stats().counters.confirmations, 0, 'the implausible claim triggered nothing');
    assert.equal(h.node.stats().counters.implausibleIgnored, 2);
    // A jump within the cap is ordinary news.
    h.ping(a, [h.entry(b, 'alive', b.incarnation + (1n << 29n))]);
    assert.equal(h.node.member(b.keys.publicKey)?.incarnation, b.incarnation + (1n << 29n));
  });

  it('drops gossip about the all-zero key and about itself that is not news', () => {
    const h = new Harness({ trust: 'open' });
    const a = h.peer(1);
    h.introduce(a);
    const members = h.node.stats().members;
    h.ping(a, [{ ...h.entry(a, 'alive'), subjectPublicKey: new Uint8Array(32) }, h.entry(h.self, 'alive', 1n)]);
    assert.equal(h.node.stats().members, members);
    assert.equal(h.node.incarnation, 100n);
  });

  it('treats a strictly higher restart epoch as a restart (spec §7.7) and ignores one far in the future', () => {
    const h = new Harness();
    const a = h.peer(1);
    h.introduce(a);
    h.takeEvents();
    h.ping(a, [], { restartEpoch: a.restartEpoch + 10n });
    assert.equal(eventsOf(h.takeEvents(), 'member-restarted').length, 1);
    h.ping(a, [], { restartEpoch: a.restartEpoch + 5n });
    assert.equal(eventsOf(h.takeEvents(), 'member-restarted').length, 0, 'lower epoch is a replay');
    const future = BigInt(EPOCH_MS + 10 * 60_000) * 1_000_000n;
    h.ping(a, [], { restartEpoch: future });
    assert.equal(eventsOf(h.takeEvents(), 'member-restarted').length, 0, 'more than 300 s ahead is ignored');
  });

  it('sends a member it suspects its suspicion with every message, so it can refute', () => {
    const h = new Harness({ config: { indirectChecks: 0 } });
    const a = h.peer(1);
    h.introduce(a);
    h.advance(3000); // a's probes go unanswered
    assert.equal(h.state(a), 'suspect');
    h.takeSent();
    h.ping(a);
    const ack = h.sentTo(a, 'ack')[0]!;
    assert.equal(ack.gossip[0]!.event, 'suspect');
    assert.ok(Buffer.from(ack.gossip[0]!.subjectPublicKey).equals(a.keys.publicKey));
    // Its refutation (a newer incarnation) clears the suspicion.
    h.ping(a, [h.entry(a, 'alive', a.incarnation + 1n)]);
    assert.equal(h.state(a), 'alive');
    const alive = eventsOf(h.events, 'member-alive');
    assert.equal(alive.at(-1)?.previous, 'suspect');
  });
});
