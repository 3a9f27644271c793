import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { GossipEvent } from '../../src/swim/gossip-entry-codec.js';
import { eventsOf, Harness } from './node-harness.js';

describe('SwimNode bounded membership', () => {
  it('refuses newcomers when full of live members, and makes room by evicting the dead — never the alive', () => {
    const h = new Harness({ config: { maxMembers: 3, indirectChecks: 0 } });
    const [a, b, c, d] = [1, 2, 3, 4].map((i) => h.peer(i));
    h.introduce(a!, b!, c!);
    h.ping(d!, [h.selfEntry(d!)]);
    assert.equal(h.node.member(d!.keys.publicKey), undefined, 'full of alive members: refused');
    assert.equal(h.node.stats().counters.refusedCapacity, 1);
    // c dies (its probes go unanswered; 4 members → min 4 s, max 24 s).
    while (h.state(c!) !== 'dead') h.advanceAnswering(10, [a!, b!], [c!]);
    h.ping(d!, [h.selfEntry(d!)]);
    assert.equal(h.state(d!), 'alive');
    assert.equal(h.node.member(c!.keys.publicKey), undefined, 'the dead member made room');
    assert.equal(h.state(a!), 'alive');
    assert.equal(h.state(b!), 'alive');
    assert.equal(eventsOf(h.events, 'member-forgotten').length, 1);
  });

  it('forgets dead members after the retention time', () => {
    const h = new Harness({ config: { deadRetentionMs: 5000, indirectChecks: 0 } });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    while (h.state(b) !== 'dead') h.advanceAnswering(10, [a], [b]);
    h.advanceAnswering(4900, [a], [b]);
    assert.equal(h.state(b), 'dead', 'remembered, so stale gossip cannot resurrect it');
    h.ping(a, [h.entry(b, 'alive', b.incarnation)]);
    assert.equal(h.state(b), 'dead');
    h.advanceAnswering(200, [a], [b]);
    assert.equal(h.node.member(b.keys.publicKey), undefined);
    assert.equal(eventsOf(h.events, 'member-forgotten').length, 1);
  });

  it('a dead member comes back only with a newer incarnation (its refutation), which our dead hint prompts', () => {
    const h = new Harness({ config: { indirectChecks: 0 } });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    while (h.state(b) !== 'dead') h.advanceAnswering(10, [a], [b]);
    h.takeSent();
    h.ping(b); // back from a partition, at the old incarnation
    assert.equal(h.state(b), 'dead', 'a Ping alone does not revive (spec §16 weakness fixed)');
    const hint = h.sentTo(b, 'ack')[0]!.gossip[0]!;
    assert.equal(hint.event, 'dead');
    assert.equal(hint.lamport, b.incarnation);
    h.ping(b, [h.entry(b, 'alive', b.incarnation + 1n)]);
    assert.equal(h.state(b), 'alive');
    assert.equal(eventsOf(h.events, 'member-alive').at(-1)?.previous, 'dead');
    assert.equal(
      eventsOf(h.events, 'wg-peer-add').filter((e) => Buffer.from(e.publicKey).equals(b.keys.publicKey)).length,
      2,
    );
  });

  it('property: incarnations never go down and only a newer alive revives, whatever gossip arrives', () => {
    const h = new Harness({ trust: 'open', config: { indirectChecks: 0 } });
    const [a, b] = [h.peer(1), h.peer(2)];
    h.introduce(a, b);
    const events: GossipEvent[] = ['join', 'alive', 'suspect', 'dead', 'leave'];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            event: fc.constantFrom(...events),
            delta: fc.integer({ min: -3, max: 3 }),
            wait: fc.integer({ min: 0, max: 3000 }),
          }),
          { maxLength: 30 },
        ),
        (steps) => {
          for (const s of steps) {
            const before = h.node.member(b.keys.publicKey);
            const lamport = (before?.incarnation ?? b.incarnation) + BigInt(s.delta);
            h.ping(a, [h.entry(b, s.event, lamport < 0n ? 0n : lamport)]);
            const after = h.node.member(b.keys.publicKey);
            if (before !== undefined && after !== undefined) {
              if (after.incarnation < before.incarnation) return false;
              const revived = (before.state === 'dead' || before.state === 'left') && after.state === 'alive';
              if (revived && !(s.event === 'alive' && lamport > before.incarnation)) return false;
              // A claim alone never kills or removes anything.
              if (before.state === 'alive' && (after.state === 'dead' || after.state === 'left')) return false;
            }
            h.advanceAnswering(s.wait, [a, b]);
          }
          return true;
        },
      ),
      { numRuns: 40 },
    );
  });
});
