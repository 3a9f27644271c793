import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STATE_REQUEST_SEQ_FLAG } from '../../src/swim/state-push.js';
import { Harness, type Peer, type Sent } from './node-harness.js';

const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

/**
 * What limited a 1000-node mass join (75 protocol periods before these fixes, 7 after): the
 * pace of greetings, members that everybody already knew hearing no gossip while greetings
 * lasted, and self entries lost to the send limiter.
 */
describe('SwimNode joining at scale', () => {
  /** A member we know directly tells us of 96 others, 8 per Ping, as a mass join does. */
  function learnSecondHand(h: Harness): { direct: Peer; learned: Peer[] } {
    const direct = h.peer(1);
    h.introduce(direct);
    const learned = Array.from({ length: 96 }, (_, i) => h.peer(i + 2));
    for (let i = 0; i < learned.length; i += 8) {
      h.ping(
        direct,
        learned.slice(i, i + 8).map((p) => h.selfEntry(p)),
      );
    }
    h.takeSent();
    return { direct, learned };
  }

  it('greets a backlog of members learned second-hand many a round, not eight to a message like rumours', () => {
    const h = new Harness({ trust: 'open' });
    learnSecondHand(h);
    // One gossip round (or two, if its phase was 0): a greeting is one message per member.
    h.advance(200);
    const greetings = h.node.stats().sent.greeting.packets;
    assert.ok(greetings >= 20, `${greetings} greetings in the first round`);
    assert.ok(greetings <= 2 * h.node.config.introductionMaxPerRound);
  });

  it('keeps gossiping to random members while greetings are pending, so no member is left out', () => {
    const h = new Harness({ trust: 'open' });
    learnSecondHand(h);
    h.advance(600);
    assert.ok(h.node.stats().introductions > 0, 'greetings still pending');
    assert.ok(h.node.stats().sent.gossip.packets >= 3, `${h.node.stats().sent.gossip.packets} gossip messages`);
  });

  it('sends its self entry again to a member whose copy the send limiter dropped', () => {
    // Two tokens, one more per second: the third newcomer's Ack is refused.
    const h = new Harness({ trust: 'open', config: { sendPacketsPerSecond: 1, sendBurst: 2, backgroundReserve: 0 } });
    const [a, b, c] = [h.peer(1), h.peer(2), h.peer(3)];
    h.introduce(a, b);
    h.ping(c, [h.selfEntry(c)]);
    assert.equal(h.sentTo(c, 'ack').length, 0, 'the Ack to c was dropped');
    assert.ok(h.node.stats().counters.sendDropped > 0);
    h.takeSent();
    h.clock.set(h.clock.nowMs() + 1000); // a token, without letting timers spend it
    h.ping(c, [h.selfEntry(c)]);
    const acks = h.sentTo(c, 'ack');
    assert.equal(acks.length, 1);
    assert.ok(acks[0]!.gossip.some((e) => hex(e.subjectPublicKey) === hex(h.self.keys.publicKey)));
  });

  /** Members of `peers` that received a state push (an Ack carrying others' alive entries). */
  function pushedTo(sent: readonly Sent[], peers: readonly Peer[]): Set<number> {
    const out = new Set<number>();
    for (const s of sent) {
      if (s.message?.kind !== 'ack') continue;
      const p = peers.find((q) => q.endpoint.address === s.to.address && q.endpoint.port === s.to.port);
      if (p === undefined) continue;
      const others = s.message.gossip.filter(
        (e) => e.event === 'alive' && hex(e.subjectPublicKey) !== hex(p.keys.publicKey),
      );
      if (others.length >= 3) out.add(p.index);
    }
    return out;
  }

  it('answers a Ping with the state-request seq bit with its view; a request beyond the sessions waits, one more is refused', () => {
    const h = new Harness({ trust: 'open', config: { maxPushSessions: 1, pushRequestQueue: 1, pushIntervalMs: 0 } });
    const peers = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => h.peer(i));
    h.introduce(...peers);
    h.takeSent();
    for (const p of peers.slice(0, 3)) h.ping(p, [], { seq: STATE_REQUEST_SEQ_FLAG | 5n });
    // Asking again straight away is not a new request.
    h.ping(peers[0]!, [], { seq: STATE_REQUEST_SEQ_FLAG | 6n });
    const sent = h.advanceAnswering(5000, peers);
    assert.deepEqual([...pushedTo(sent, peers)].sort(), [1, 2], 'one session, one waiting, the third refused');
    const toFirst = new Set<string>();
    for (const s of sent) {
      if (s.message?.kind !== 'ack' || s.to.address !== peers[0]!.endpoint.address) continue;
      for (const e of s.message.gossip) if (e.event === 'alive') toFirst.add(hex(e.subjectPublicKey));
    }
    for (const p of peers.slice(1)) assert.ok(toFirst.has(hex(p.keys.publicKey)), `peer ${p.index} in the view`);
  });

  it('asks one member for its view once its join has settled, and only once', () => {
    const h = new Harness({ trust: 'open', config: { pushIntervalMs: 0 } });
    const seed = { ...h.peer(1), endpoint: { address: '198.51.100.10', port: 51821 } };
    const others = [2, 3, 4].map((i) => h.peer(i));
    h.node.join([seed.endpoint]);
    const ping = h.takeSent()[0]!.message!;
    assert.ok(ping.kind === 'ping');
    // The seed answers with what it knows; we greet those members and they answer.
    h.ack(seed, ping.seq, [h.selfEntry(seed), ...others.map((p) => h.selfEntry(p))]);
    let requestedAt: number | null = null;
    let requests = 0;
    let lastGreetingAt = -1;
    while (h.clock.nowMs() < 10_000) {
      for (const s of h.advanceAnswering(10, [seed, ...others])) {
        if (s.message?.kind !== 'ping') continue;
        if ((s.message.seq & STATE_REQUEST_SEQ_FLAG) !== 0n) {
          requests++;
          requestedAt ??= h.clock.nowMs();
        } else if (s.message.gossip.length >= 2) {
          lastGreetingAt = h.clock.nowMs();
        }
      }
    }
    assert.equal(requests, 1);
    // Not before the greetings were done, nor before a period passed without news.
    assert.ok(requestedAt !== null && requestedAt > lastGreetingAt && requestedAt >= 1000, `at ${requestedAt}`);
  });
});
