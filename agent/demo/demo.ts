/**
 * `npm run demo` (root): an org, N (default 3, MESHGUARD_DEMO_NODES) nodes in network
 * namespaces on one LAN, org-signed certificates, N `meshguard up` daemons; waits until every
 * pair pings over mesh IPs, prints status, revokes the last node at the first one and shows it
 * dropped everywhere, then cleans up.
 */
import { isRoot } from '@meshguard/core/testing';
import { MeshLab, type LabNode } from '../test/support/mesh-lab.js';

const N = Number(process.env['MESHGUARD_DEMO_NODES'] ?? 3);
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function until(check: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`gave up after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

if (!isRoot()) {
  process.stderr.write('npm run demo needs root (network namespaces, TUN devices)\n');
  process.exit(2);
}
if (!(Number.isInteger(N) && N >= 2 && N <= 20)) {
  process.stderr.write('MESHGUARD_DEMO_NODES must be 2-20\n');
  process.exit(2);
}

const lab = new MeshLab();
try {
  say(`org ${lab.orgPublicKey}`);
  for (let i = 0; i < N; i++) {
    const node = lab.addNode();
    say(`${node.name}: ${node.publicKey}  mesh ${node.meshIPv4}  lan ${node.lanAddress}`);
  }
  const [first] = lab.nodes as [LabNode, ...LabNode[]];
  for (const node of lab.nodes) lab.start(node, node === first ? [] : [first]);
  const pairs = lab.nodes.flatMap((a) => lab.nodes.filter((b) => b !== a).map((b) => [a, b] as const));
  const ms = await until(() => pairs.every(([a, b]) => lab.canPing(a, b)), 90_000);
  say(`every pair of ${N} nodes pings over the mesh after ${(ms / 1000).toFixed(1)} s`);
  say('');
  say(`status on ${first.name}:`);
  say(lab.control(first, ['status']).trimEnd());

  const target = lab.nodes.at(-1)!;
  const others = lab.nodes.filter((n) => n !== target);
  say('');
  say(`revoking ${target.name} (org-revoke, file dropped into ${first.name}'s revoked/ only)`);
  lab.revoke(target, first);
  const dropped = await until(
    () =>
      others.every((n) => {
        const status = JSON.parse(lab.control(n, ['status', '--json'])) as {
          members: Array<{ meshIPv4: string; state: string; wireguard: boolean }>;
        };
        const entry = status.members.find((m) => m.meshIPv4 === target.meshIPv4);
        return entry === undefined || (entry.state !== 'alive' && !entry.wireguard);
      }),
    30_000,
  );
  const unreachable = others.every((n) => !lab.canPing(n, target));
  say(
    `${target.name} dropped by all ${others.length} other nodes ${(dropped / 1000).toFixed(1)} s later; pings to it ${unreachable ? 'fail' : 'STILL WORK'}`,
  );
  say('');
  say(`status on ${others.at(-1)!.name}:`);
  say(lab.control(others.at(-1)!, ['status']).trimEnd());
  if (!unreachable) process.exitCode = 1;
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  for (const node of lab.nodes) process.stderr.write(`--- ${node.name} ---\n${node.daemon?.output() ?? ''}\n`);
  process.exitCode = 1;
} finally {
  await lab.destroy();
}
