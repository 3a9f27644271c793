import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSwimMessage } from '../../src/swim/swim-codec.js';
import { eventsOf, Harness, type Peer } from './node-harness.js';

/** A node that knows peers 1..n. */
function mesh(n: number): { h: Harness; peers: Peer[] } {
  const h = new Harness();
  const peers = Array.from({ length: n }, (_, i) => h.peer(i + 1));
  h.introduce(...peers);
  h.takeSent();
  h.takeEvents();
  return { h, peers };
}

describe('SwimNode: a third party’s suspect/dead/leave needs our own confirmation', () => {
  it('forged dead gossip about a live member is probed, disproved and ignored; the member stays alive', () => {
    const { h, peers } = mesh(5);
    const [liar, victim] = [peers[0]!, peers[1]!];
    h.ping(liar, [h.entry(victim, 'dead'), h.entry(victim, 'leave')]);
    assert.equal(h.state(victim), 'alive', 'nothing changes on the claim alone');
    const sent = h.advanceAnswering(2000, peers);
    // We probed the victim ourselves, telling it what it is accused of so it can refute.
    const probes = sent.filter((s) => s.message?.kind === 'ping' && s.to.address === victim.endpoint.address);
    assert.ok(probes.length >= 1);
    const first = probes[0]!.message!;
    assert.ok(
      first.kind === 'ping' &&
        first.gossip.some(
          (e) => e.event === 'suspect' && Buffer.from(e.subjectPublicKey).equals(victim.keys.publicKey),
        ),
    );
    assert.equal(h.state(victim), 'alive');
    assert.equal(eventsOf(h.events, 'member-dead').length, 0);
    assert.equal(eventsOf(h.events, 'member-suspect').length, 0);
    assert.equal(eventsOf(h.events, 'wg-peer-remove').length, 0);
    // Repeating the lie within the cooldown costs nothing more.
    const confirmations = h.node.stats().counters.confirmations;
    h.ping(liar, [h.entry(victim, 'dead')]);
    h.advanceAnswering(1500, peers);
    assert.equal(h.node.stats().counters.confirmations, confirmations);
    assert.ok(h.node.stats().counters.claimsIgnored >= 1);
  });

  it('a claim our own probe confirms becomes a suspicion (the claimers count as confirmations), then death', () => {
    const { h, peers } = mesh(5);
    const gone = peers[0]!;
    h.ping(peers[1]!, [h.entry(gone, 'dead')]);
    h.ping(peers[2]!, [h.entry(gone, 'suspect')]);
    for (let t = 0; t < 3000 && h.state(gone) === 'alive'; t += 10) h.advanceAnswering(10, peers, [gone]);
    assert.equal(h.state(gone), 'suspect');
    const suspectedAt = h.clock.nowMs();
    while (h.state(gone) === 'suspect') h.advanceAnswering(10, peers, [gone]);
    assert.equal(h.state(gone), 'dead');
    // Two claimers = k confirmations: the minimum timeout (4 s in a 6-member mesh).
    assert.ok(h.clock.nowMs() - suspectedAt <= 4020);
  });

  it('stale claims (older incarnation) and claims about strangers are ignored without a probe', () => {
    const { h, peers } = mesh(3);
    const [a, b] = [peers[0]!, peers[1]!];
    const stranger = h.stranger();
    h.ping(a, [h.entry(b, 'dead', b.incarnation - 1n), h.entry(stranger, 'dead')]);
    h.advanceAnswering(2000, peers);
    assert.equal(h.node.stats().counters.confirmations, 0);
    assert.equal(h.state(b), 'alive');
    assert.equal(h.node.member(stranger.keys.publicKey), undefined);
  });

  it('a member announcing its own leave and then going silent is marked left after one probe, not after a suspicion', () => {
    const { h, peers } = mesh(4);
    const leaver = peers[0]!;
    h.ping(leaver, [h.entry(leaver, 'leave', leaver.incarnation + 1n, false)]);
    let t = 0;
    while (h.state(leaver) === 'alive' && t < 5000) {
      h.advanceAnswering(10, peers, [leaver]);
      t += 10;
    }
    assert.equal(h.state(leaver), 'left');
    assert.ok(t <= 1100, `left after ${t} ms`);
    assert.equal(eventsOf(h.events, 'member-left').length, 1);
    assert.equal(eventsOf(h.events, 'wg-peer-remove').length, 1);
  });

  it('a forged leave for a member that still answers changes nothing', () => {
    const { h, peers } = mesh(4);
    const [liar, victim] = [peers[0]!, peers[1]!];
    h.ping(liar, [h.entry(victim, 'leave', victim.incarnation + 1n, false)]);
    h.advanceAnswering(3000, peers);
    assert.equal(h.state(victim), 'alive');
    assert.equal(eventsOf(h.events, 'member-left').length, 0);
  });
});

describe('SwimNode.leave', () => {
  it('sends one Ping with a single leave entry about itself to every live member, then answers nothing', () => {
    const { h, peers } = mesh(3);
    const before = h.node.incarnation;
    h.node.leave();
    assert.equal(h.node.status, 'left');
    const sent = h.takeSent();
    assert.equal(sent.length, 3);
    for (const s of sent) {
      const m = decodeSwimMessage(s.bytes);
      assert.equal(m.kind, 'ping');
      assert.equal(m.gossip.length, 1);
      assert.equal(m.gossip[0]!.event, 'leave');
      assert.equal(m.gossip[0]!.lamport, before + 1n);
      assert.equal(m.gossip[0]!.endpoint, null);
      assert.ok(Buffer.from(m.gossip[0]!.subjectPublicKey).equals(h.self.keys.publicKey));
    }
    assert.equal(eventsOf(h.events, 'left-mesh').length, 1);
    h.ping(peers[0]!);
    h.advance(5000);
    assert.equal(h.takeSent().length, 0, 'silent after leaving');
    assert.equal(h.node.nextDeadline(), Infinity);
  });
});
