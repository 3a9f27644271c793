import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventsOf, Harness, type Peer, type Sent } from './node-harness.js';

function sameEndpoint(s: Sent, p: Peer): boolean {
  return s.to.address === p.endpoint.address && s.to.port === p.endpoint.port;
}

/**
 * Regressions of a false death seen in the 1000-node benchmark: a seed, its send limiter
 * drained by acks to a thousand newcomers, timed a probe whose Ping never left, suspected a
 * live newcomer, and — the newcomer's refutation never reaching it through the crowded join
 * gossip — declared it dead when the unconfirmed 72 s suspicion ran out.
 */
describe('SwimNode false suspicions', () => {
  it('a probe the send limiter refused is no evidence: nobody is suspected and our health is unchanged', () => {
    // Five tokens, practically no refill: the acks to the introductions use them all up.
    const h = new Harness({
      trust: 'open',
      config: { sendPacketsPerSecond: 0.001, sendBurst: 5, backgroundReserve: 0 },
    });
    const peers = [1, 2, 3, 4, 5, 6].map((i) => h.peer(i));
    h.introduce(...peers);
    assert.ok(h.node.stats().counters.sendDropped > 0, 'the limiter is exhausted');
    h.advanceAnswering(60_000, peers);
    assert.deepEqual(eventsOf(h.events, 'member-suspect'), []);
    assert.ok(peers.every((p) => h.state(p) === 'alive'));
    assert.equal(h.node.awareness, 0);
    assert.equal(h.node.stats().counters.probes, 0);
  });

  /** 100 members: the round-robin comes back to a member only ~100 periods later, past the 48 s maximum. */
  function suspectOne(): { h: Harness; peers: Peer[]; subject: Peer; suspectedAt: number } {
    const h = new Harness({ trust: 'open' });
    const peers = Array.from({ length: 100 }, (_, i) => h.peer(i + 1));
    h.introduce(...peers);
    const subject = peers[41]!;
    while (h.state(subject) !== 'suspect') h.advanceAnswering(10, peers, [subject]);
    return { h, peers, subject, suspectedAt: h.clock.nowMs() };
  }

  it('an unconfirmed suspicion is checked again directly, so a lost refutation cannot kill a live member', () => {
    const { h, peers, subject, suspectedAt } = suspectOne();
    h.takeSent();
    // From now on the subject answers every Ping — but no refutation ever reaches us as gossip.
    let clearedAt: number | null = null;
    const sent: Sent[] = [];
    while (h.clock.nowMs() < suspectedAt + 60_000 && clearedAt === null) {
      sent.push(...h.advanceAnswering(10, peers));
      if (h.state(subject) === 'alive') clearedAt = h.clock.nowMs();
    }
    assert.ok(clearedAt !== null, `still ${h.state(subject)} after 60 s`);
    // Minimum timeout at 101 members: 4 · log10(101) · 1 s ≈ 8 s; the recheck comes at half of it.
    assert.ok(clearedAt - suspectedAt <= 4_100, `cleared after ${clearedAt - suspectedAt} ms`);
    assert.deepEqual(eventsOf(h.events, 'member-dead'), []);
    // The recheck carried the suspicion, so the subject could also refute it.
    const rechecks = sent.filter((s) => sameEndpoint(s, subject) && s.message?.kind === 'ping');
    assert.ok(
      rechecks.some(
        (s) =>
          s.message?.kind === 'ping' &&
          s.message.gossip.some(
            (e) => e.event === 'suspect' && Buffer.from(e.subjectPublicKey).equals(subject.keys.publicKey),
          ),
      ),
    );
  });

  it('a suspicion others confirm is not rechecked: a real crash costs no extra probes and is not delayed', () => {
    const { h, peers, subject, suspectedAt } = suspectOne();
    // Two independent confirmations (k = 2 at this size): the timer drops to the minimum.
    h.ping(peers[1]!, [h.entry(subject, 'suspect')]);
    h.ping(peers[2]!, [h.entry(subject, 'dead')]);
    h.takeSent();
    const sent: Sent[] = [];
    while (h.state(subject) === 'suspect') sent.push(...h.advanceAnswering(10, peers, [subject]));
    assert.equal(h.state(subject), 'dead');
    const elapsed = h.clock.nowMs() - suspectedAt;
    assert.ok(elapsed >= 8_000 && elapsed <= 8_020, `suspicion lasted ${elapsed} ms`);
    const pings = sent.filter((s) => sameEndpoint(s, subject) && s.message?.kind === 'ping');
    assert.equal(pings.length, 0, 'no recheck of a confirmed suspicion');
  });
});
