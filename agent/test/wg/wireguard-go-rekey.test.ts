import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { interopSuite, parsePing, ping, pingInBackground, startDirectPair, TUNNEL } from './interop-harness.js';

/**
 * Rekeying under traffic. With our timers shortened (REKEY_AFTER_TIME 3 s, REJECT_AFTER_TIME
 * 6 s) and us the initiator of every session, we must start a fresh handshake about every 3 s
 * while pings flow both ways, and the switch to each new session must not lose packets: the
 * old keypair stays usable for receiving until wireguard-go has moved on, and we send on the
 * new one only once the handshake is complete.
 */

const LIMITS = {
  rekeyAfterTimeMs: 3000,
  rejectAfterTimeMs: 6000,
  keepaliveTimeoutMs: 1000,
  rekeyTimeoutMs: 1000,
};
const DURATION_S = 15;
const INTERVAL_S = 0.2;

describe('rekeying with shortened timers while traffic flows', () => {
  const interopFor = interopSuite();

  test('several handshakes in 15 s and at most one lost ping per direction', { timeout: 120_000 }, async (t) => {
    const interop = interopFor(t);
    if (interop === undefined) return;
    const pair = await startDirectPair(interop, {
      // wireguard-go learns our endpoint, so every handshake is ours: REKEY_AFTER_TIME applies
      // only to the initiator of the current session.
      theyKnowOurEndpoint: false,
      ourEnv: { MESHGUARD_TEST_PROTOCOL_LIMITS: JSON.stringify(LIMITS) },
    });
    assert.match(pair.ours.log(), /MESHGUARD_TEST_PROTOCOL_LIMITS is set/, 'the daemon saw the test limits');
    const warm = await ping(interop, pair.nsOurs, TUNNEL.theirs.v4, { count: 2 });
    assert.equal(warm.received, 2, `tunnel not up\n${warm.proc.describe()}\n${pair.diagnostics()}`);

    const count = Math.round(DURATION_S / INTERVAL_S);
    const options = { count, interval: INTERVAL_S, wait: 2 };
    const outbound = pingInBackground(interop, pair.nsOurs, TUNNEL.theirs.v4, options);
    const inbound = pingInBackground(interop, pair.nsTheirs, TUNNEL.ours.v6, options);

    // latest-handshake has one-second resolution; with ~3 s between handshakes every one shows.
    const seen = { ours: new Set<number>(), theirs: new Set<number>() };
    const timeline: string[] = [];
    const started = Date.now();
    while (outbound.finished === undefined || inbound.finished === undefined) {
      const ours = pair.ourPeer().latestHandshake;
      const theirs = pair.theirPeer().latestHandshake;
      if (!seen.ours.has(ours) || !seen.theirs.has(theirs)) {
        timeline.push(`+${Date.now() - started} ms: meshguard ${ours}, wireguard-go ${theirs}`);
      }
      seen.ours.add(ours);
      seen.theirs.add(theirs);
      if (Date.now() - started > (DURATION_S + 30) * 1000) break;
      await sleep(250);
    }
    await Promise.all([outbound.exited, inbound.exited]);
    const out = parsePing(outbound);
    const back = parsePing(inbound);
    const context = `handshake timeline:\n${timeline.join('\n')}\n${outbound.describe()}\n${inbound.describe()}\n${pair.diagnostics()}`;
    t.diagnostic(`${seen.ours.size - 1} handshake(s) seen by meshguard, ${seen.theirs.size - 1} by wireguard-go`);
    t.diagnostic(
      `meshguard → wireguard-go ${out.received}/${out.transmitted}, wireguard-go → meshguard ${back.received}/${back.transmitted}`,
    );

    // Distinct values include the warm-up handshake's; "advanced at least twice" is three.
    assert.ok(seen.ours.size >= 3, `meshguard's latest handshake advanced fewer than twice\n${context}`);
    assert.ok(seen.theirs.size >= 3, `wireguard-go's latest handshake advanced fewer than twice\n${context}`);
    assert.equal(out.transmitted, count, context);
    assert.equal(back.transmitted, count, context);
    assert.ok(
      out.transmitted - out.received <= 1,
      `meshguard → wireguard-go lost ${out.transmitted - out.received}\n${context}`,
    );
    assert.ok(
      back.transmitted - back.received <= 1,
      `wireguard-go → meshguard lost ${back.transmitted - back.received}\n${context}`,
    );
    assert.equal(out.duplicates + back.duplicates, 0, context);
  });
});
