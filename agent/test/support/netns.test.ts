import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { requireCapability } from '@meshguard/core/testing';
import {
  allAvailable,
  MAX_IFNAME_LENGTH,
  netnsAvailable,
  pingAvailable,
  requireBinary,
  run,
  startFixture,
  startWireGuardGo,
  Topology,
  uniqueIfname,
  uniqueNamespaceName,
  wgAvailable,
  wireguardGoAvailable,
  generateWgKeyPair,
} from './netns.js';

test('names carry the pid, never repeat, and fit IFNAMSIZ', () => {
  const names = Array.from({ length: 200 }, () => uniqueIfname('wg'));
  assert.equal(new Set(names).size, names.length);
  for (const name of names) {
    assert.ok(name.length <= MAX_IFNAME_LENGTH - 1, name); // room for a veth's a/b suffix
    assert.ok(name.startsWith(`wg${process.pid.toString(36)}-`), name);
  }
  assert.match(uniqueNamespaceName('a'), new RegExp(`^mgt-${process.pid}-[0-9]+-a$`));
  assert.throws(() => uniqueIfname('toolong'));
  assert.throws(() => uniqueNamespaceName('Bad Label'));
});

test('generated keys are what `wg pubkey` derives', (t) => {
  const cap = wgAvailable();
  if (!requireCapability(t, cap.available, cap.reason)) return;
  const pair = generateWgKeyPair();
  assert.match(pair.privateKey, /^[A-Za-z0-9+/]{43}=$/);
  assert.equal(run([requireBinary('wg'), 'pubkey'], { input: pair.privateKey }).trim(), pair.publicKey);
});

describe('two wireguard-go peers across a veth', () => {
  let topology: Topology | undefined;
  after(() => topology?.destroy());

  test('ping crosses the tunnel, the dump shows a handshake, destroy() leaves nothing', async (t) => {
    const cap = allAvailable(netnsAvailable(), wireguardGoAvailable(), wgAvailable(), pingAvailable());
    if (!requireCapability(t, cap.available, cap.reason)) return;
    const wg = requireBinary('wg');
    topology = new Topology();
    const nsA = topology.namespace('a');
    const nsB = topology.namespace('b');
    const link = topology.veth(nsA, nsB, {
      ipv4: ['192.0.2.1/24', '192.0.2.2/24'],
      ipv6: ['fd00:db8::1/64', 'fd00:db8::2/64'],
    });
    assert.match(topology.ipIn(nsA, ['-br', 'address', 'show', 'dev', link.a.ifname]), /192\.0\.2\.1\/24/);

    // One side's keys from node:crypto, the other's from wg itself.
    const keysA = generateWgKeyPair();
    const privateB = run([wg, 'genkey']).trim();
    const keysB = { privateKey: privateB, publicKey: run([wg, 'pubkey'], { input: privateB }).trim() };

    const devA = await startWireGuardGo(topology, nsA, {
      privateKey: keysA.privateKey,
      listenPort: 51820,
      addresses: ['10.100.0.1/24', 'fd00:100::1/64'],
      mtu: 1380,
      peers: [{ publicKey: keysB.publicKey, allowedIps: ['10.100.0.2/32', 'fd00:100::2/128'] }],
    });
    const devB = await startWireGuardGo(topology, nsB, {
      privateKey: keysB.privateKey,
      listenPort: 51820,
      addresses: ['10.100.0.2/24', 'fd00:100::2/64'],
      peers: [
        {
          publicKey: keysA.publicKey,
          allowedIps: ['10.100.0.1/32', 'fd00:100::1/128'],
          endpoint: '192.0.2.1:51820',
          persistentKeepalive: 25,
        },
      ],
    });
    assert.match(topology.ipIn(nsA, ['link', 'show', 'dev', devA.ifname]), /mtu 1380 /);

    const before = devA.dump();
    assert.equal(before.interface.publicKey, keysA.publicKey);
    assert.equal(before.interface.listenPort, 51820);
    assert.deepEqual(
      before.peers.map((p) => p.publicKey),
      [keysB.publicKey],
    );
    assert.deepEqual(before.peers[0]!.allowedIps, ['10.100.0.2/32', 'fd00:100::2/128']);

    // B knows A's endpoint, so B initiates; A learns B's endpoint from the handshake.
    topology.exec(nsB, ['ping', '-c', '3', '-i', '0.2', '-W', '3', '10.100.0.1'], { timeoutMs: 20_000 });
    topology.exec(nsB, ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', 'fd00:100::1'], { timeoutMs: 20_000 });

    const peerOfA = devA.dump().peers[0]!;
    assert.ok(peerOfA.latestHandshake > 0, 'A records a handshake');
    assert.equal(peerOfA.endpoint, '192.0.2.2:51820');
    assert.ok(peerOfA.rxBytes > 0n && peerOfA.txBytes > 0n);
    const peerOfB = devB.dump().peers[0]!;
    assert.ok(peerOfB.latestHandshake > 0, 'B records a handshake');
    assert.equal(peerOfB.persistentKeepalive, 25);

    const namespaces = topology.namespaceNames();
    const processes = topology.spawnedProcesses();
    assert.equal(processes.length, 2);
    await topology.destroy();
    await topology.destroy(); // idempotent

    const listed = run([requireBinary('ip'), 'netns', 'list']);
    for (const name of namespaces) assert.ok(!listed.includes(name), `${name} still listed`);
    for (const p of processes) {
      assert.ok(p.hasExited, `pid ${p.pid} still running`);
      assert.throws(() => process.kill(p.pid, 0), { code: 'ESRCH' });
    }
    for (const dev of [devA, devB]) assert.ok(!existsSync(dev.socketPath), `${dev.socketPath} left behind`);
    assert.throws(() => topology!.namespace('late'), /already destroyed/);
  });
});

describe('Node fixtures in a namespace', () => {
  let topology: Topology | undefined;
  after(() => topology?.destroy());

  test('report JSON lines, finish at stdin EOF, and say why when no report comes', async (t) => {
    const cap = netnsAvailable();
    if (!requireCapability(t, cap.available, cap.reason)) return;
    topology = new Topology();
    const ns = topology.namespace('fixture');
    const dir = topology.tempDir();
    const script = (name: string, body: string): URL => {
      const path = join(dir, `${name}.mjs`);
      writeFileSync(path, body);
      return pathToFileURL(path);
    };
    const echo = startFixture(
      topology,
      ns,
      script(
        'echo',
        `console.log(JSON.stringify({ arg: process.argv[2] }));
         process.stdin.on('end', () => console.log(JSON.stringify({ done: true }))).resume();`,
      ),
      ['hello'],
    );
    assert.deepEqual(await echo.next(), { arg: 'hello' });
    assert.deepEqual(await echo.finish(), { done: true });
    assert.equal((await echo.child.exited).code, 0);

    const quitter = startFixture(topology, ns, script('quit', `console.error('boom'); process.exit(3);`), []);
    await assert.rejects(quitter.next(), /ended its output before the next line; output:\nboom/);

    const silent = startFixture(topology, ns, script('silent', 'process.stdin.resume();'), []);
    await assert.rejects(silent.next(200), /wrote nothing for 200 ms/);
    const [silentProcess] = topology.spawnedProcesses().slice(-1);
    await topology.destroy();
    assert.ok(silentProcess!.hasExited, 'destroy() stops a fixture that never finished');
  });
});
