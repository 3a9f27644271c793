import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { interopSuite, ping, startDirectPair, TUNNEL, type DirectPair, type Interop } from './interop-harness.js';

/**
 * Cryptokey routing on receive (whitepaper §2): a decrypted packet is accepted only if its
 * inner source address is in the AllowedIPs of the peer whose key decrypted it. wireguard-go
 * gets a second tunnel address that is not in our AllowedIPs for it and pings us from it.
 *
 * "No replies" alone would prove nothing here: a reply to the spoofed address has no route
 * back through us anyway. The evidence is our TUN link's RX counter, which counts exactly the
 * packets our daemon writes into the kernel: the spoofed packets must reach our daemon and
 * authenticate (our peer's rx_bytes grows) but never be written (RX does not move), while the
 * same ping from the legitimate source moves RX by one per request.
 */

const SPOOFED = { v4: '10.100.0.99', v6: 'fd00:100::99' } as const;
const COUNT = 5;

describe('a packet whose inner source is not in the sender’s AllowedIPs', () => {
  const interopFor = interopSuite();

  // One pair for both families; each test adds to its counters, so they are read as deltas.
  let shared: DirectPair | undefined;
  async function setUpOnce(interop: Interop): Promise<DirectPair> {
    if (shared !== undefined) return shared;
    const pair = await startDirectPair(interop);
    // wireguard-go's AllowedIPs for us cover our address, so it encrypts these to us; ours for
    // it are 10.100.0.2/32 and fd00:100::2/128 only.
    interop.topology.addAddress(pair.nsTheirs, pair.theirs.ifname, `${SPOOFED.v4}/24`);
    interop.topology.addAddress(pair.nsTheirs, pair.theirs.ifname, `${SPOOFED.v6}/64`);
    assert.deepEqual(pair.ourPeer().allowedIps, [`${TUNNEL.theirs.v4}/32`, `${TUNNEL.theirs.v6}/128`]);
    shared = pair;
    return pair;
  }

  for (const family of ['v4', 'v6'] as const) {
    test(
      `is dropped (IPv${family.slice(1)}) while the legitimate source still works`,
      { timeout: 120_000 },
      async (t) => {
        const interop = interopFor(t);
        if (interop === undefined) return;
        const pair = await setUpOnce(interop);
        const legitimate = async (what: string): Promise<void> => {
          const before = pair.ours.linkStats().rxPackets;
          // An explicit source: with two addresses in one /64, the kernel may pick either.
          const r = await ping(pair.interop, pair.nsTheirs, TUNNEL.ours[family], {
            count: COUNT,
            source: TUNNEL.theirs[family],
          });
          const written = pair.ours.linkStats().rxPackets - before;
          assert.equal(r.received, COUNT, `${what}: legitimate ping\n${r.proc.describe()}\n${pair.diagnostics()}`);
          assert.equal(
            written,
            COUNT,
            `${what}: our TUN RX should count each legitimate request\n${pair.diagnostics()}`,
          );
        };

        await legitimate('before the spoofed ping');

        const rxPacketsBefore = pair.ours.linkStats().rxPackets;
        const rxBytesBefore = pair.ourPeer().rxBytes;
        const spoofed = await ping(pair.interop, pair.nsTheirs, TUNNEL.ours[family], {
          count: COUNT,
          wait: 1,
          source: SPOOFED[family],
        });
        const written = pair.ours.linkStats().rxPackets - rxPacketsBefore;
        const arrived = pair.ourPeer().rxBytes - rxBytesBefore;
        const context = `\n${spoofed.proc.describe()}\n${pair.diagnostics()}`;
        assert.equal(spoofed.transmitted, COUNT, context);
        assert.ok(arrived > 0n, `the spoofed packets never reached our daemon, so the test proves nothing${context}`);
        assert.equal(written, 0, `our daemon delivered ${written} packet(s) from ${SPOOFED[family]}${context}`);
        assert.equal(spoofed.received, 0, `replies to the spoofed source${context}`);

        await legitimate('after the spoofed ping');
      },
    );
  }
});
