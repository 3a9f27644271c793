import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { fixturePath, interopSuite, ping, startDirectPair, TUNNEL, type DirectPair } from './interop-harness.js';
import { timedOut, type Namespace, type SpawnedProcess } from '../support/netns.js';

/**
 * 100 MiB of TCP through the tunnel in each direction, checked end to end by SHA-256: any
 * lost, reordered, duplicated or corrupted byte that TCP would not repair (TCP checksums are
 * weak, and a tunnel that corrupts after decryption hands TCP valid-looking segments) changes
 * the receiver's hash. Also a throughput figure, reported as a diagnostic.
 */

const BYTES = 100 * 1024 * 1024;
const TCP_PORT = 5201;
/** ~250 Mbit/s measured here: 100 MiB takes a few seconds; the margin is for slow CI hosts. */
const TRANSFER_TIMEOUT_MS = 90_000;

interface Done {
  readonly bytes: number;
  readonly sha256: string;
  readonly ms: number;
}

function done(proc: SpawnedProcess): Done {
  const report = proc.reports().find((r) => r['event'] === 'done');
  if (report === undefined) throw new Error(`no result: ${proc.describe()}`);
  const { bytes, sha256, ms } = report;
  if (typeof bytes !== 'number' || typeof sha256 !== 'string' || typeof ms !== 'number') {
    throw new Error(`malformed result ${JSON.stringify(report)}: ${proc.describe()}`);
  }
  return { bytes, sha256, ms };
}

async function transfer(
  t: TestContext,
  pair: DirectPair,
  from: Namespace,
  to: Namespace,
  toAddress: string,
  seed: string,
): Promise<void> {
  const { interop } = pair;
  const script = fixturePath('bulk-tcp');
  const receiver = interop.spawn(to, [
    process.execPath,
    script,
    'receive',
    String(TCP_PORT),
    String(TRANSFER_TIMEOUT_MS),
  ]);
  await receiver.waitForReport((r) => r['event'] === 'listening', 10_000);
  const sender = await interop.run(
    from,
    [process.execPath, script, 'send', toAddress, String(TCP_PORT), String(BYTES), seed],
    {
      timeoutMs: TRANSFER_TIMEOUT_MS,
    },
  );
  // The receiver reports once it has seen EOF, which is just after the sender is done.
  await timedOut(receiver.exited, 10_000);
  const context = (): string => `\n${sender.describe()}\n${receiver.describe()}\n${pair.diagnostics()}`;
  assert.equal(sender.finished?.code, 0, `sender failed${context()}`);
  assert.equal(receiver.finished?.code, 0, `receiver failed${context()}`);
  const sent = done(sender);
  const received = done(receiver);
  assert.equal(sent.bytes, BYTES, `sender wrote ${sent.bytes} bytes${context()}`);
  assert.equal(received.bytes, BYTES, `receiver got ${received.bytes} of ${BYTES} bytes${context()}`);
  assert.equal(received.sha256, sent.sha256, `SHA-256 differs: the tunnel altered the stream${context()}`);
  const mbits = (BYTES * 8) / (sent.ms / 1000) / 1e6;
  t.diagnostic(`${BYTES} bytes in ${sent.ms} ms (${mbits.toFixed(0)} Mbit/s), sha256 ${sent.sha256.slice(0, 16)}…`);
}

describe('100 MiB TCP through meshguard ⇄ wireguard-go, verified by SHA-256', () => {
  const interopFor = interopSuite();
  let pair: DirectPair | undefined;

  const setUp = async (t: TestContext): Promise<DirectPair | undefined> => {
    const interop = interopFor(t);
    if (interop === undefined) return undefined;
    if (pair !== undefined) return pair;
    pair = await startDirectPair(interop);
    const warm = await ping(interop, pair.nsOurs, TUNNEL.theirs.v4, { count: 3 });
    assert.equal(warm.received, 3, `tunnel not up before the transfer\n${warm.proc.describe()}\n${pair.diagnostics()}`);
    return pair;
  };

  test('meshguard → wireguard-go', { timeout: 120_000 }, async (t) => {
    const p = await setUp(t);
    if (p === undefined) return;
    const before = p.ourPeer().txBytes;
    await transfer(t, p, p.nsOurs, p.nsTheirs, TUNNEL.theirs.v4, 'meshguard-to-wireguard-go');
    const sentBytes = p.ourPeer().txBytes - before;
    assert.ok(sentBytes > BigInt(BYTES), `our tx_bytes grew by only ${sentBytes}\n${p.diagnostics()}`);
  });

  test('wireguard-go → meshguard', { timeout: 120_000 }, async (t) => {
    const p = await setUp(t);
    if (p === undefined) return;
    const before = p.ourPeer().rxBytes;
    await transfer(t, p, p.nsTheirs, p.nsOurs, TUNNEL.ours.v4, 'wireguard-go-to-meshguard');
    const receivedBytes = p.ourPeer().rxBytes - before;
    assert.ok(receivedBytes > BigInt(BYTES), `our rx_bytes grew by only ${receivedBytes}\n${p.diagnostics()}`);
  });

  // Both at once: our single event loop encrypts one stream while it decrypts the other.
  test('both directions at once', { timeout: 120_000 }, async (t) => {
    const p = await setUp(t);
    if (p === undefined) return;
    await Promise.all([
      transfer(t, p, p.nsOurs, p.nsTheirs, TUNNEL.theirs.v4, 'concurrent-outbound'),
      transfer(t, p, p.nsTheirs, p.nsOurs, TUNNEL.ours.v4, 'concurrent-inbound'),
    ]);
  });
});
