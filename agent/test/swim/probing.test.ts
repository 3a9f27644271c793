import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PingReq } from '../../src/swim/swim-codec.js';
import { eventsOf, Harness } from './node-harness.js';

describe('SwimNode probing', () => {
  it('probes one member per period in a shuffled round-robin: every member once per round', () => {
    const h = new Harness({ trust: 'open' });
    const peers = [1, 2, 3, 4, 5].map((i) => h.peer(i));
    h.introduce(...peers);
    h.takeSent();
    // From time 0 (the first period starts at a random phase in the first second): ten probes.
    const sent = h.advanceAnswering(10_000, peers);
    const counts = new Map<string, number>();
    for (const s of sent) {
      if (s.message?.kind === 'ping') counts.set(s.to.address, (counts.get(s.to.address) ?? 0) + 1);
    }
    // Ten periods, five members: each probed exactly twice.
    assert.deepEqual([...counts.values()], [2, 2, 2, 2, 2]);
    assert.ok(peers.every((p) => h.state(p) === 'alive'));
    assert.equal(h.node.awareness, 0);
  });

  it('a prompt direct Ack settles the probe and lowers the local health score', () => {
    const h = new Harness({ trust: 'open' });
    const a = h.peer(1);
    h.introduce(a);
    h.ping(a, [h.entry(h.self, 'suspect', 200n)]); // being suspected: awareness 1
    assert.equal(h.node.awareness, 1);
    h.advanceAnswering(3000, [a]);
    assert.equal(h.node.awareness, 0);
    assert.equal(h.state(a), 'alive');
  });

  it('after a direct timeout asks k helpers, and accepts an Ack only from a helper it asked, for that seq', () => {
    const h = new Harness({ trust: 'open', config: { indirectChecks: 2 } });
    const [t, x, y, z] = [1, 2, 3, 4].map((i) => h.peer(i)) as [
      ReturnType<Harness['peer']>,
      ...ReturnType<Harness['peer']>[],
    ];
    const others = [x!, y!, z!];
    h.introduce(t, ...others);
    h.takeSent();
    let seq: bigint | null = null;
    for (let i = 0; i < 800 && seq === null; i++) {
      for (const s of h.advanceAnswering(10, others)) {
        if (s.message?.kind === 'ping' && s.to.address === t.endpoint.address) seq = s.message.seq;
      }
    }
    assert.ok(seq !== null, 't was probed');
    const requests: Array<{ to: string; message: PingReq }> = [];
    for (const s of h.advanceAnswering(600, others)) {
      if (s.message?.kind === 'ping-req') requests.push({ to: s.to.address, message: s.message });
    }
    assert.equal(requests.length, 2, 'k = 2 helpers');
    for (const r of requests) {
      assert.equal(r.message.seq, seq);
      assert.ok(Buffer.from(r.message.targetPublicKey).equals(t.keys.publicKey));
    }
    const asked = others.filter((p) => requests.some((r) => r.to === p.endpoint.address));
    const notAsked = others.find((p) => !asked.includes(p))!;
    // An Ack for the seq from someone we did not ask proves nothing, nor does a helper's Ack for another seq.
    h.ack(notAsked, seq);
    h.ack(asked[0]!, seq + 1000n);
    assert.equal(h.node.stats().counters.indirectSuccesses, 0);
    // A helper relaying the target's Ack with our seq clears the probe.
    h.ack(asked[1]!, seq);
    assert.equal(h.node.stats().counters.indirectSuccesses, 1);
    assert.equal(h.node.awareness, 1, 'needing helpers counts against our own health');
    h.advanceAnswering(1000, others);
    assert.equal(h.state(t), 'alive');
  });

  it('as a helper, pings the target with its own seq and relays the target Ack to the requester with the requester seq', () => {
    const h = new Harness({ trust: 'open' });
    const [requester, target] = [h.peer(1), h.peer(2)];
    h.introduce(requester, target);
    h.takeSent();
    h.pingReq(requester, target, 4242n);
    const pings = h.sentTo(target, 'ping');
    assert.equal(pings.length, 1);
    assert.notEqual(pings[0]!.seq, 4242n);
    // An Ack with our seq from someone else is not the target's answer.
    h.ack(requester, pings[0]!.seq);
    assert.equal(h.sentTo(requester, 'ack').length, 0);
    h.ack(target, pings[0]!.seq);
    const relayed = h.sentTo(requester, 'ack');
    assert.equal(relayed.length, 1);
    assert.equal(relayed[0]!.seq, 4242n);
    assert.ok(Buffer.from(relayed[0]!.senderPublicKey).equals(h.self.keys.publicKey));
    // Relayed once only.
    h.ack(target, pings[0]!.seq);
    assert.equal(h.sentTo(requester, 'ack').length, 1);
  });

  it('answers a PingReq naming itself directly, so the asker hears from its target', () => {
    const h = new Harness({ trust: 'open' });
    const requester = h.peer(1);
    h.introduce(requester);
    h.takeSent();
    h.pingReq(requester, h.self, 77n);
    const acks = h.sentTo(requester, 'ack');
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.seq, 77n);
  });

  it('suspects a member whose direct and indirect probes fail, then declares it dead after the suspicion timeout', () => {
    const h = new Harness({ trust: 'open' });
    const peers = [1, 2, 3, 4, 5].map((i) => h.peer(i));
    h.introduce(...peers);
    const dead = peers[0]!;
    let suspectedAt: number | null = null;
    while (h.state(dead) !== 'dead' && h.clock.nowMs() < 60_000) {
      h.advanceAnswering(10, peers, [dead]);
      if (suspectedAt === null && h.state(dead) === 'suspect') suspectedAt = h.clock.nowMs();
    }
    assert.ok(suspectedAt !== null);
    assert.equal(h.state(dead), 'dead');
    // 6 members: min = 4 · max(1, log10 6) · 1 s = 4 s; no confirmations, so the maximum, ×6.
    const elapsed = h.clock.nowMs() - suspectedAt;
    assert.ok(elapsed >= 24_000 && elapsed <= 24_020, `suspicion lasted ${elapsed} ms`);
    const deaths = eventsOf(h.events, 'member-dead');
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.cause, 'failure');
    assert.ok(eventsOf(h.events, 'wg-peer-remove').some((e) => Buffer.from(e.publicKey).equals(dead.keys.publicKey)));
    assert.ok(peers.slice(1).every((p) => h.state(p) === 'alive'));
  });

  it('independent confirmations shrink the suspicion timeout toward the minimum', () => {
    const timeTo = (confirmers: number): number => {
      const h = new Harness({ trust: 'open' });
      const peers = [1, 2, 3, 4, 5].map((i) => h.peer(i));
      h.introduce(...peers);
      const dead = peers[0]!;
      while (h.state(dead) !== 'suspect') h.advanceAnswering(10, peers, [dead]);
      const suspectedAt = h.clock.nowMs();
      peers.slice(1, 1 + confirmers).forEach((p, i) => h.ping(p, [h.entry(dead, i % 2 === 0 ? 'suspect' : 'dead')]));
      while (h.state(dead) === 'suspect') h.advanceAnswering(10, peers, [dead]);
      assert.equal(h.state(dead), 'dead');
      return h.clock.nowMs() - suspectedAt;
    };
    const none = timeTo(0);
    const one = timeTo(1);
    const two = timeTo(2);
    const three = timeTo(3);
    // max = 24 s, min = 4 s, k = 2: 24 − 20·log(2)/log(3) ≈ 11.4 s after one confirmation.
    assert.ok(none > one && one > two, `${none} > ${one} > ${two}`);
    assert.ok(Math.abs(one - 11_381) <= 20, `one confirmation: ${one}`);
    assert.ok(two <= 4_020, `k confirmations reach the minimum: ${two}`);
    assert.equal(three, two, 'confirmations beyond k change nothing');
  });
});
