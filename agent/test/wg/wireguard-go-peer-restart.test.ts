import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assertPings,
  interopSuite,
  pingUntilReply,
  startDirectPair,
  TUNNEL,
  type DirectPair,
} from './interop-harness.js';

/**
 * wireguard-go restarts with the same key and config and so forgets the session; we still hold
 * it. Default timers, as in production.
 *
 * - We send first: our packets go out under a session wireguard-go no longer has, and nothing
 *   comes back. WireGuard's answer is the "no reply" timer: data sent with nothing received for
 *   KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (10 s + 5 s) starts a new handshake. So replies must
 *   resume within ~15 s; we allow 30 s.
 * - wireguard-go sends first: it has no session, initiates at once, and we must accept the
 *   new initiation (its TAI64N timestamp is newer than the last one we accepted) although our
 *   old session still looks alive. Replies within a few seconds.
 */

const OUR_SIDE_BOUND_MS = 30_000;
const THEIR_SIDE_BOUND_MS = 10_000;

async function bothWays(pair: DirectPair, what: string): Promise<void> {
  for (const [ns, target] of [
    [pair.nsOurs, TUNNEL.theirs.v4],
    [pair.nsTheirs, TUNNEL.ours.v4],
    [pair.nsOurs, TUNNEL.theirs.v6],
  ] as const) {
    await assertPings(pair, ns, target, what);
  }
}

describe('wireguard-go restarts with the same key', () => {
  const interopFor = interopSuite();

  test('traffic resumes from either side within a bounded time', { timeout: 120_000 }, async (t) => {
    const interop = interopFor(t);
    if (interop === undefined) return;
    // Both know each other's endpoint, so after a restart either side can start a handshake.
    const pair = await startDirectPair(interop);
    await bothWays(pair, 'before any restart');
    const handshakeBefore = pair.ourPeer().latestHandshake;

    // 1. Restart, then we send first.
    await pair.restartTheirs();
    assert.equal(pair.theirPeer().latestHandshake, 0, 'the restarted wireguard-go has no session');
    const ourWait = await pingUntilReply(interop, pair.nsOurs, TUNNEL.theirs.v4, OUR_SIDE_BOUND_MS, () =>
      pair.diagnostics(),
    );
    t.diagnostic(`we sent first: first reply after ${ourWait} ms`);
    await bothWays(pair, 'after restart 1');
    assert.ok(pair.ourPeer().latestHandshake >= handshakeBefore, pair.diagnostics());
    assert.ok(pair.theirPeer().latestHandshake > 0, `a new handshake after restart 1\n${pair.diagnostics()}`);

    // 2. Restart again, then wireguard-go sends first.
    await pair.restartTheirs();
    const theirWait = await pingUntilReply(interop, pair.nsTheirs, TUNNEL.ours.v4, THEIR_SIDE_BOUND_MS, () =>
      pair.diagnostics(),
    );
    t.diagnostic(`wireguard-go sent first: first reply after ${theirWait} ms`);
    await bothWays(pair, 'after restart 2');
  });
});
