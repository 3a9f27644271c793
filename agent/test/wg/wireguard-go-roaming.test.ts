import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertPings,
  endpoint,
  interopSuite,
  startDirectPair,
  TUNNEL,
  waitFor,
  type DirectPair,
} from './interop-harness.js';
import type { Namespace } from '../support/netns.js';

/**
 * Endpoint roaming (whitepaper §2.1): a peer's endpoint is wherever its latest authenticated
 * packet came from. We move one side's underlay address; once that side has sent, the other
 * must have switched its endpoint to the new address and its own traffic must get through.
 */

const MOVED = { ours: '192.0.2.11', theirs: '192.0.2.12' } as const;

/** Replaces the veth end's only IPv4 address (delete first: deleting a primary also drops secondaries). */
function moveAddress(pair: DirectPair, ns: Namespace, ifname: string, from: string, to: string): void {
  pair.interop.topology.ipIn(ns, ['address', 'del', `${from}/24`, 'dev', ifname]);
  pair.interop.topology.addAddress(ns, ifname, `${to}/24`);
}

describe('our address changes', () => {
  const interopFor = interopSuite();

  test('wireguard-go follows us to the new address after we send', { timeout: 120_000 }, async (t) => {
    const interop = interopFor(t);
    if (interop === undefined) return;
    const pair = await startDirectPair(interop);
    await assertPings(pair, pair.nsOurs, TUNNEL.theirs.v4, 'before the move');
    assert.equal(pair.theirPeer().endpoint, endpoint(pair.underlay.ours), pair.diagnostics());

    moveAddress(pair, pair.nsOurs, pair.link.a.ifname, pair.underlay.ours, MOVED.ours);
    // Our datagrams now leave from the new address; wireguard-go replies to where they came from.
    await assertPings(pair, pair.nsOurs, TUNNEL.theirs.v4, 'we send from the new address');
    await waitFor(
      `wireguard-go's endpoint for us to become ${endpoint(MOVED.ours)}`,
      () => (pair.theirPeer().endpoint === endpoint(MOVED.ours) ? true : undefined),
      5000,
      () => pair.diagnostics(),
    );
    // Traffic that wireguard-go starts goes to the new address too.
    await assertPings(pair, pair.nsTheirs, TUNNEL.ours.v4, 'wireguard-go sends to our new address');
    await assertPings(pair, pair.nsTheirs, TUNNEL.ours.v6, 'wireguard-go sends to our new address (IPv6 inside)');
  });
});

describe("wireguard-go's address changes", () => {
  const interopFor = interopSuite();

  test('we follow wireguard-go to its new address after it sends', { timeout: 120_000 }, async (t) => {
    const interop = interopFor(t);
    if (interop === undefined) return;
    const pair = await startDirectPair(interop);
    await assertPings(pair, pair.nsTheirs, TUNNEL.ours.v4, 'before the move');
    assert.equal(pair.ourPeer().endpoint, endpoint(pair.underlay.theirs), pair.diagnostics());

    moveAddress(pair, pair.nsTheirs, pair.link.b.ifname, pair.underlay.theirs, MOVED.theirs);
    // wireguard-go (v0.0.20220316, Linux) caches the local source address of each endpoint and
    // keeps sending from it after that address is gone, so nothing leaves at all; the same
    // happens between two wireguard-go peers. Setting its endpoint for us again (to our
    // unchanged address) clears that cache. It tells wireguard-go nothing about its own new
    // address, so what we learn below still comes only from the source of its packets.
    pair.theirs.wg([
      'set',
      pair.theirs.ifname,
      'peer',
      pair.ourKeys.publicKey,
      'endpoint',
      endpoint(pair.underlay.ours),
    ]);
    await assertPings(pair, pair.nsTheirs, TUNNEL.ours.v4, 'wireguard-go sends from its new address');
    await waitFor(
      `our endpoint for wireguard-go to become ${endpoint(MOVED.theirs)}`,
      () => (pair.ourPeer().endpoint === endpoint(MOVED.theirs) ? true : undefined),
      5000,
      () => pair.diagnostics(),
    );
    const shown = await pair.ours.show();
    assert.match(shown, new RegExp(`endpoint: ${endpoint(MOVED.theirs).replaceAll('.', '\\.')}\\n`), shown);
    await assertPings(pair, pair.nsOurs, TUNNEL.theirs.v4, 'we send to its new address');
    await assertPings(pair, pair.nsOurs, TUNNEL.theirs.v6, 'we send to its new address (IPv6 inside)');
  });
});
