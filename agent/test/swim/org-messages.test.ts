import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  aliasSignedPayload,
  encodeOrgMessage,
  sign,
  signOrgAlias,
  signOrgRevoke,
  signOrgVouch,
  TrustSet,
  type OrgAliasAnnounce,
} from '@meshguard/core';
import { AliasTable } from '../../src/swim/alias-table.js';
import { OrgControl } from '../../src/swim/org-control.js';
import { seededKeyPair } from '../../src/sim/mesh-builder.js';
import { SeededRandom } from '../../src/swim/random-source.js';
import { eventsOf, Harness } from './node-harness.js';

const LIMITS = { checksPerSecond: 100, checkBurst: 100, seenCapacity: 64, rememberedRevocations: 8, aliasCapacity: 4 };

describe('org messages at the node', () => {
  it('a verified revocation kills the revoked member at once, drops its tunnel and floods the exact bytes to every live member', () => {
    const h = new Harness();
    const peers = [1, 2, 3, 4].map((i) => h.peer(i));
    h.introduce(...peers);
    h.takeSent();
    h.takeEvents();
    const target = peers[0]!;
    const bytes = encodeOrgMessage(signOrgRevoke(h.org, target.keys.publicKey, 2, 5n));
    h.deliver(bytes, peers[1]!.endpoint);
    assert.equal(h.state(target), 'dead');
    const deaths = eventsOf(h.events, 'member-dead');
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.cause, 'revoked');
    assert.equal(eventsOf(h.events, 'wg-peer-remove').length, 1);
    const applied = eventsOf(h.events, 'revocation-applied');
    assert.equal(applied.length, 1);
    assert.deepEqual(applied[0]!.evicted, [target.keys.publicKey]);
    const flooded = h.takeSent().filter((s) => s.bytes[0] === 0x42);
    assert.deepEqual(
      flooded.map((s) => s.to.address).sort(),
      peers
        .slice(1)
        .map((p) => p.endpoint.address)
        .sort(),
      'to every live member, not to the revoked one',
    );
    assert.ok(flooded.every((s) => Buffer.from(s.bytes).equals(bytes)));
    // A second copy (even with trailing junk) is a duplicate: no new flood.
    h.deliver(Uint8Array.from([...bytes, 1, 2, 3]), peers[2]!.endpoint);
    assert.equal(h.takeSent().filter((s) => s.bytes[0] === 0x42).length, 0);
    // Counted for metrics: two org datagrams in, one revocation applied, one duplicate.
    const stats = h.node.stats();
    assert.equal(stats.received.org, 2);
    assert.ok(stats.received.ping > 0, 'the introductions came as Pings');
    assert.equal(stats.org.revocation, 1);
    assert.equal(stats.org.duplicate, 1);
    // The revoked key can no longer get back in.
    h.ping(target, [h.selfEntry(target)]);
    assert.equal(h.state(target), 'dead');
    h.ping(peers[1]!, [h.entry(target, 'alive', target.incarnation + 10n)]);
    assert.equal(h.state(target), 'dead');
  });

  it('forged revocations (bad signature, untrusted org) are ignored', () => {
    const h = new Harness();
    const peers = [1, 2].map((i) => h.peer(i));
    h.introduce(...peers);
    h.takeSent();
    h.takeEvents();
    const forged = encodeOrgMessage(signOrgRevoke(h.org, peers[0]!.keys.publicKey, 2, 5n));
    forged[100] = forged[100]! ^ 1;
    const rogue = seededKeyPair(new SeededRandom(1234));
    h.deliver(forged, peers[1]!.endpoint);
    h.deliver(encodeOrgMessage(signOrgRevoke(rogue, peers[0]!.keys.publicKey, 2, 5n)), peers[1]!.endpoint);
    assert.equal(h.state(peers[0]!), 'alive');
    assert.deepEqual(h.takeEvents(), []);
    assert.equal(h.takeSent().length, 0);
    assert.equal(h.trust.revocations.length, 0);
    const { org } = h.node.stats();
    assert.deepEqual([org['bad-signature'], org['untrusted-org'], org.revocation], [1, 1, 0]);
  });

  it('a vouch from a trusted org admits a key without a certificate; a forged one does not', () => {
    const h = new Harness();
    const stranger = h.stranger();
    const other = h.stranger();
    const rogue = seededKeyPair(new SeededRandom(77));
    h.deliver(encodeOrgMessage(signOrgVouch(rogue, other.keys.publicKey, 1n)), stranger.endpoint);
    const forged = encodeOrgMessage(signOrgVouch(h.org, other.keys.publicKey, 1n));
    forged[130] = forged[130]! ^ 1;
    h.deliver(forged, stranger.endpoint);
    h.ping(other, [], { certificate: false });
    assert.equal(h.node.member(other.keys.publicKey), undefined);
    h.deliver(encodeOrgMessage(signOrgVouch(h.org, stranger.keys.publicKey, 1n)), other.endpoint);
    assert.equal(eventsOf(h.events, 'vouch-applied').length, 1);
    h.ping(stranger, [], { certificate: false });
    assert.equal(h.state(stranger), 'alive');
    assert.equal(h.node.member(stranger.keys.publicKey)?.admittedBy, 'vouched');
  });

  it('an alias is applied and announced; a non-DNS-label alias with a valid signature is refused', () => {
    const h = new Harness();
    h.deliver(encodeOrgMessage(signOrgAlias(h.org, 'db', 10n)), { address: '198.51.100.1', port: 1 });
    const changed = eventsOf(h.events, 'alias-changed');
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.current.alias, 'db');
    const field = new Uint8Array(32);
    field.set(Buffer.from('Not_A_Label'));
    const unsigned = { alias: field, lamport: 20n };
    const weird: OrgAliasAnnounce = {
      kind: 'alias',
      orgPublicKey: h.org.publicKey,
      ...unsigned,
      signature: sign(aliasSignedPayload(unsigned), h.org.seed),
    };
    h.deliver(encodeOrgMessage(weird), { address: '198.51.100.1', port: 1 });
    assert.equal(eventsOf(h.events, 'alias-changed').length, 1);
    assert.deepEqual(
      h.node.aliases().map((a) => a.alias),
      ['db'],
    );
  });

  it('a captured vouch replayed as an alias is refused (signature confusion, spec §16)', () => {
    const h = new Harness();
    const vouch = signOrgVouch(h.org, h.peer(3).keys.publicKey, 9n);
    const replay: OrgAliasAnnounce = {
      kind: 'alias',
      orgPublicKey: vouch.orgPublicKey,
      alias: vouch.vouchedPublicKey,
      lamport: vouch.lamport,
      signature: vouch.signature,
    };
    h.deliver(encodeOrgMessage(replay), { address: '198.51.100.1', port: 1 });
    assert.equal(eventsOf(h.events, 'alias-changed').length, 0);
  });
});

describe('AliasTable (spec §5.2, with Lamport-ordered renames)', () => {
  const random = new SeededRandom(42);
  const orgA = seededKeyPair(random);
  const orgB = seededKeyPair(random);

  it('a different org takes an alias only with a strictly earlier claim', () => {
    const t = new AliasTable(8);
    assert.equal(t.apply(signOrgAlias(orgA, 'web', 100n)).changed, true);
    const later = t.apply(signOrgAlias(orgB, 'web', 200n));
    assert.deepEqual(later, { changed: false, reason: 'conflict' });
    const tie = t.apply(signOrgAlias(orgB, 'web', 100n));
    assert.deepEqual(tie, { changed: false, reason: 'conflict' });
    const earlier = t.apply(signOrgAlias(orgB, 'web', 50n));
    assert.equal(earlier.changed, true);
    assert.equal(earlier.displaced?.lamport, 100n);
    assert.equal(t.aliasOf(orgA.publicKey), undefined);
    assert.equal(t.aliasOf(orgB.publicKey)?.alias, 'web');
  });

  it('an org renames only with a newer stamp, so a replayed old announcement cannot flip the name back', () => {
    const t = new AliasTable(8);
    t.apply(signOrgAlias(orgA, 'old', 10n));
    const renamed = t.apply(signOrgAlias(orgA, 'new', 20n));
    assert.equal(renamed.changed, true);
    assert.equal(renamed.previous?.alias, 'old');
    assert.deepEqual(t.apply(signOrgAlias(orgA, 'old', 10n)), { changed: false, reason: 'stale' });
    assert.deepEqual(t.apply(signOrgAlias(orgA, 'new', 30n)), { changed: false, reason: 'refreshed' });
    assert.equal(t.aliasOf(orgA.publicKey)?.lamport, 30n);
  });

  it('is bounded', () => {
    const t = new AliasTable(1);
    t.apply(signOrgAlias(orgA, 'a', 1n));
    assert.deepEqual(t.apply(signOrgAlias(orgB, 'b', 1n)), { changed: false, reason: 'capacity' });
  });
});

describe('OrgControl', () => {
  const random = new SeededRandom(9);
  const org = seededKeyPair(random);
  const node = seededKeyPair(random);

  it('dedups exact bytes before spending a signature check, and remembers verified revocations (bounded)', () => {
    const trust = new TrustSet({ trustedOrgs: [{ name: 'o', publicKey: org.publicKey }] });
    const control = new OrgControl(trust, LIMITS);
    const bytes = encodeOrgMessage(signOrgRevoke(org, node.publicKey, 1, 1n));
    assert.equal(control.receive(bytes, 0).kind, 'revocation');
    assert.deepEqual(control.receive(bytes, 1), { kind: 'ignored', reason: 'duplicate' });
    for (let i = 0; i < 20; i++) {
      control.receive(encodeOrgMessage(signOrgRevoke(org, seededKeyPair(random).publicKey, 1, BigInt(i))), 2);
    }
    assert.equal(control.remembered().length, LIMITS.rememberedRevocations);
  });

  it('spends at most its budget of signature checks, and a message refused for budget can come back later', () => {
    const trust = new TrustSet({ trustedOrgs: [{ name: 'o', publicKey: org.publicKey }] });
    const control = new OrgControl(trust, { ...LIMITS, checksPerSecond: 1, checkBurst: 2 });
    const messages = [1, 2, 3].map((i) =>
      encodeOrgMessage(signOrgRevoke(org, seededKeyPair(random).publicKey, 1, BigInt(i))),
    );
    assert.equal(control.receive(messages[0]!, 0).kind, 'revocation');
    assert.equal(control.receive(messages[1]!, 0).kind, 'revocation');
    assert.deepEqual(control.receive(messages[2]!, 0), { kind: 'ignored', reason: 'verification-budget' });
    assert.equal(control.receive(messages[2]!, 1500).kind, 'revocation');
  });

  it('refuses malformed input and untrusted orgs without verifying', () => {
    const control = new OrgControl(new TrustSet(), LIMITS);
    assert.deepEqual(control.receive(Uint8Array.of(0x42, 1, 2), 0), { kind: 'ignored', reason: 'malformed' });
    assert.deepEqual(control.receive(encodeOrgMessage(signOrgRevoke(org, node.publicKey, 1, 1n)), 0), {
      kind: 'ignored',
      reason: 'untrusted-org',
    });
  });
});
