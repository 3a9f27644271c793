import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireCapability } from '@meshguard/core/testing';
import { MeshLab, type LabNode } from '../support/mesh-lab.js';
import { allAvailable, netnsAvailable, pingAvailable, rootAvailable, tunAvailable } from '../support/netns.js';

interface MemberView {
  readonly meshIPv4: string;
  readonly state: string;
  readonly wireguard: boolean;
}

interface StatusView {
  readonly mode: string;
  readonly trust: string;
  readonly wireguard_public_key: string | null;
  readonly members: MemberView[];
}

async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

const available = allAvailable(rootAvailable(), netnsAvailable(), tunAvailable(), pingAvailable());

describe('meshguard up --gossip-only and --open', { timeout: 240_000 }, () => {
  let lab: MeshLab | null = null;
  const status = (n: LabNode): StatusView => JSON.parse(lab!.control(n, ['status', '--json'])) as StatusView;
  const state = (n: LabNode, target: LabNode): string | undefined =>
    status(n).members.find((m) => m.meshIPv4 === target.meshIPv4)?.state;
  const diagnostics = (): string => lab!.nodes.map((n) => `--- ${n.name}\n${n.daemon?.output() ?? ''}`).join('\n');
  const hasInterface = (n: LabNode, name: string): boolean =>
    lab!.topology.tryExec(n.ns, ['ip', 'link', 'show', name]).status === 0;

  before(() => {
    if (!available.available) return;
    lab = new MeshLab(222);
    lab.addNode({ certificate: 'v1' });
    for (let i = 0; i < 2; i++) lab.addNode();
    for (let i = 0; i < 3; i++) lab.addNode({ certificate: 'none' });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('a gossip-only seed introduces nodes to each other without a data plane of its own', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const l = lab!;
    const [seed, a, b] = l.nodes as [LabNode, LabNode, LabNode];
    l.start(seed, [], ['--gossip-only']);
    // a and b know only the seed: everything they learn of each other comes through its gossip.
    l.start(a, [seed]);
    l.start(b, [seed]);
    await until(() => l.canPing(a, b) && l.canPing(b, a), 60_000, diagnostics);
    const s = status(seed);
    assert.equal(s.mode, 'gossip-only');
    assert.equal(s.wireguard_public_key, null);
    assert.equal(hasInterface(seed, 'mg0'), false, 'no TUN interface on a gossip-only node');
    assert.deepEqual(
      s.members.map((m) => [m.meshIPv4, m.state, m.wireguard]).sort(),
      [
        [a.meshIPv4, 'alive', false],
        [b.meshIPv4, 'alive', false],
      ].sort(),
    );
    // The others see the seed as a member but make no tunnel to it: it has no WireGuard key
    // (its v1 certificate binds none, and it advertises none).
    const fromA = status(a).members.find((m) => m.meshIPv4 === seed.meshIPv4);
    assert.equal(fromA?.state, 'alive');
    assert.equal(fromA.wireguard, false);
    assert.equal(status(a).mode, 'userspace');
    assert.equal(hasInterface(a, 'mg0'), true);
    assert.equal(l.canPing(a, seed), false, 'nothing answers on the seed mesh address');
  });

  it('--open admits unenrolled nodes, with a loud warning; without it they are refused', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const l = lab!;
    const [, , , p, q, closed] = l.nodes as [LabNode, LabNode, LabNode, LabNode, LabNode, LabNode];
    l.start(p, [], ['--open']);
    l.start(q, [p], ['--open']);
    l.start(closed, [p]);
    await until(() => l.canPing(p, q) && l.canPing(q, p), 60_000, diagnostics);
    assert.match(p.daemon!.output(), /WARNING: --open: TRUST CHECKS ARE OFF/);
    assert.equal(status(p).trust, 'open');
    const text = l.controlWithStderr(p, ['status']);
    assert.match(text.stdout, /^trust: +open$/m);
    assert.match(text.stderr, /TRUST CHECKS ARE OFF/);

    // The node without --open and without anchors admits nobody, so it never joins: the open
    // nodes cannot get an answer from it, and it holds nobody as alive.
    assert.equal(status(closed).trust, 'no-anchors');
    assert.doesNotMatch(closed.daemon!.output(), /TRUST CHECKS ARE OFF/);
    // It knocked at p (its seed), so p knows of it, probes it, hears nothing and declares it dead.
    const ms = await until(() => state(p, closed) === 'dead', 60_000, diagnostics);
    t.diagnostic(`the closed node was dead at an open one after ${ms} ms`);
    assert.deepEqual(
      status(closed).members.filter((m) => m.state === 'alive'),
      [],
    );
    assert.equal(l.canPing(closed, p), false);
    assert.equal(l.canPing(p, closed), false);
  });
});
