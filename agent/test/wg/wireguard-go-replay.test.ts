import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { endpoint, fixturePath, interopSuite, ping, startPair, TUNNEL, type Pair } from './interop-harness.js';
import type { SpawnedProcess } from '../support/netns.js';

/**
 * Replay protection (whitepaper §5.4.6): a relay between the peers sends every datagram twice,
 * in both directions, as an attacker on the path can without any key. Each duplicate of a
 * transport message must be dropped by the receiver's sliding window, each duplicate
 * handshake message by the timestamp/state checks. If we delivered a duplicated echo request,
 * our kernel would answer it twice and wireguard-go's ping would print `DUP!`; a duplicated
 * echo reply delivered by us would show as `DUP!` in our ping. Our TUN link's RX counter
 * (packets our daemon writes into the kernel) must move by exactly one per packet sent.
 *
 *   meshguard 192.0.2.1 ── 192.0.2.2:51820 [relay] :51821 198.51.100.1 ── 198.51.100.2 wireguard-go
 */

const COUNT = 20;
const RELAY = { towardUs: 51820, towardThem: 51821 } as const;

function stats(proc: SpawnedProcess): Record<string, number> {
  const last = proc.reports().findLast((r) => r['event'] === 'stats');
  if (last === undefined) throw new Error(`relay printed no stats: ${proc.describe()}`);
  return Object.fromEntries(Object.entries(last).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

const VARIANTS = [
  { delayMs: 0, what: 'at once' },
  // Replays land two or three packets later (pings go every 100 ms): the window's bitmap.
  { delayMs: 250, what: '250 ms later' },
] as const;

for (const { delayMs, what } of VARIANTS)
  describe(`every datagram delivered again ${what} by a relay on the path`, () => {
    const interopFor = interopSuite();

    test('is accepted once: no duplicates and no loss, both directions', { timeout: 120_000 }, async (t) => {
      const interop = interopFor(t);
      if (interop === undefined) return;
      const { topology } = interop;
      const nsOurs = topology.namespace('mg');
      const nsRelay = topology.namespace('relay');
      const nsTheirs = topology.namespace('wggo');
      topology.veth(nsOurs, nsRelay, { ipv4: ['192.0.2.1/24', '192.0.2.2/24'] });
      topology.veth(nsRelay, nsTheirs, { ipv4: ['198.51.100.1/24', '198.51.100.2/24'] });
      const relay = interop.spawn(nsRelay, [
        process.execPath,
        fixturePath('udp-relay'),
        String(RELAY.towardUs),
        String(RELAY.towardThem),
        '198.51.100.2',
        '51820',
        '2', // copies toward us
        '2', // copies toward wireguard-go
        String(delayMs),
      ]);
      await relay.waitForReport((r) => r['event'] === 'listening', 10_000);
      const pair: Pair = await startPair(interop, {
        nsOurs,
        nsTheirs,
        theirEndpoint: endpoint('192.0.2.2', RELAY.towardUs),
        ourEndpoint: endpoint('198.51.100.1', RELAY.towardThem),
      });
      const context = (extra: string): string => `\n${extra}\n${relay.describe()}\n${pair.diagnostics()}`;

      for (const [label, ns, target] of [
        ['meshguard → wireguard-go, IPv4', nsOurs, TUNNEL.theirs.v4],
        ['wireguard-go → meshguard, IPv4', nsTheirs, TUNNEL.ours.v4],
        ['meshguard → wireguard-go, IPv6', nsOurs, TUNNEL.theirs.v6],
        ['wireguard-go → meshguard, IPv6', nsTheirs, TUNNEL.ours.v6],
      ] as const) {
        const before = pair.ours.linkStats().rxPackets;
        const r = await ping(interop, ns, target, { count: COUNT, interval: 0.1 });
        // Let the last delayed replays land inside this window, where they must not count.
        await sleep(2 * delayMs);
        const written = pair.ours.linkStats().rxPackets - before;
        t.diagnostic(`${label}: ${r.received}/${r.transmitted} received, ${r.duplicates} duplicates`);
        assert.equal(r.dupLines, 0, `${label}: ping saw DUP!${context(r.proc.describe())}`);
        assert.equal(r.duplicates, 0, `${label}: duplicates${context(r.proc.describe())}`);
        assert.equal(r.received, COUNT, `${label}: loss${context(r.proc.describe())}`);
        // One request (inbound ping) or one reply (outbound ping) written per exchange.
        assert.equal(
          written,
          COUNT,
          `${label}: our daemon wrote ${written} packets to TUN, not ${COUNT}${context('')}`,
        );
      }

      // The relay really did double everything, so the pings above met duplicates.
      relay.signal('SIGUSR1');
      await relay.waitForReport((r) => r['event'] === 'stats', 5000);
      const s = stats(relay);
      t.diagnostic(`relay: ${JSON.stringify(s)}`);
      assert.ok((s['fromB'] ?? 0) >= 4 * COUNT, `relay saw few datagrams from wireguard-go${context('')}`);
      assert.equal(s['toA'], 2 * (s['fromB'] ?? 0), `relay did not double toward us${context('')}`);
      assert.equal(s['toB'], 2 * (s['fromA'] ?? 0), `relay did not double toward wireguard-go${context('')}`);
      assert.equal(s['sendErrors'], 0, context(''));
    });
  });
