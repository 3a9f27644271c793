import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeSwimMessage } from '../../src/swim/swim-codec.js';
import { Harness } from './node-harness.js';

const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');

describe('SwimNode joining', () => {
  it('pings its seeds with its self entry and certificate, retrying with backoff until it knows someone', () => {
    const h = new Harness();
    const seeds = [
      { address: '198.51.100.10', port: 51821 },
      { address: '198.51.100.11', port: 51821 },
    ];
    h.node.join(seeds);
    const first = h.takeSent();
    assert.equal(first.length, 2);
    for (const s of first) {
      assert.equal(s.message?.kind, 'ping');
      assert.notEqual(s.message.certificate, null);
      assert.ok(s.message.gossip.some((e) => hex(e.subjectPublicKey) === hex(h.self.keys.publicKey)));
    }
    h.advance(2100);
    assert.equal(h.takeSent().filter((s) => s.to.address.startsWith('198.51.100.1')).length, 2, 'retried after 2 s');
    h.advance(3000);
    assert.equal(h.takeSent().filter((s) => s.to.address.startsWith('198.51.100.1')).length, 0, 'then after 4 s');
    h.advance(1000);
    assert.equal(h.takeSent().filter((s) => s.to.address.startsWith('198.51.100.1')).length, 2);
    // A seed answers (we learn its key from the Ack): no more retries.
    const seed = { ...h.peer(1), endpoint: seeds[0]! };
    h.ack(seed, 1n, [h.selfEntry(seed)]);
    assert.equal(h.state(seed), 'alive');
    h.takeSent();
    const later = h.advanceAnswering(20_000, [seed]);
    assert.equal(later.filter((s) => s.to.address === '198.51.100.11').length, 0);
  });

  it('pushes its view to a newcomer whose first Ping carries nothing but itself', () => {
    const h = new Harness({ config: { pushIntervalMs: 0 } });
    const known = [1, 2, 3, 4, 5].map((i) => h.peer(i));
    h.introduce(...known);
    h.takeSent();
    const newcomer = h.peer(6);
    h.ping(newcomer, [h.selfEntry(newcomer)]);
    const pushed = new Set<string>();
    for (const s of h.advanceAnswering(2000, [...known, newcomer])) {
      if (s.to.address !== newcomer.endpoint.address || s.message?.kind !== 'ack') continue;
      for (const e of s.message.gossip) if (e.event === 'alive') pushed.add(hex(e.subjectPublicKey));
    }
    for (const p of known) assert.ok(pushed.has(hex(p.keys.publicKey)), `peer ${p.index} pushed`);
    assert.ok(h.node.stats().sent.push.packets >= 1);
  });

  it('does not push to an established member that merely had not met us (a greeting)', () => {
    const h = new Harness({ config: { pushIntervalMs: 0 } });
    const known = [1, 2, 3].map((i) => h.peer(i));
    h.introduce(...known);
    const established = h.peer(4);
    // Its greeting carries its own entry and ours.
    h.ping(established, [h.selfEntry(established), h.selfEntry(h.self)]);
    h.advanceAnswering(3000, [...known, established]);
    assert.equal(h.node.stats().sent.push.packets, 0);
  });

  it('greets a member learned second-hand once, and not again once it has answered', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.takeSent();
    h.ping(a, [h.selfEntry(b)]);
    const greetings = (): number => h.node.stats().sent.greeting.packets;
    h.advance(250);
    assert.equal(greetings(), 1);
    const greeting = h.sentTo(b, 'ping')[0]!;
    assert.ok(
      greeting.gossip.some((e) => hex(e.subjectPublicKey) === hex(b.keys.publicKey)),
      'it hears what we know of it',
    );
    h.ack(b, greeting.seq);
    h.advance(5000);
    assert.equal(greetings(), 1);
    assert.equal(h.node.stats().introductions, 0);
  });

  it('a member that never answers is greeted at most twice', () => {
    const h = new Harness({ trust: 'open' });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a);
    h.ping(a, [h.selfEntry(b)]);
    h.advanceAnswering(10_000, [a]);
    assert.equal(h.node.stats().sent.greeting.packets, 2);
  });

  it('ignores its own datagrams reflected back', () => {
    const h = new Harness();
    h.deliver(
      encodeSwimMessage({
        kind: 'ping',
        senderPublicKey: h.self.keys.publicKey,
        seq: 1n,
        incarnation: 0n,
        gossip: [],
        certificate: h.self.certificate,
      }),
      h.self.endpoint,
    );
    assert.equal(h.node.stats().members, 0);
    assert.equal(h.sent.length, 0);
  });
});
