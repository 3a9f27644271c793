import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireCapability } from '@meshguard/core/testing';
import { binaryAvailable } from '../support/capabilities.js';
import { MeshLab, type LabNode } from '../support/mesh-lab.js';
import { NatLab } from '../support/nat-lab.js';
import { allAvailable, netnsAvailable, pingAvailable, rootAvailable, tunAvailable } from '../support/netns.js';

interface MemberView {
  readonly meshIPv4: string;
  readonly state: string;
  readonly endpoint: string | null;
  readonly natType: string;
  readonly path: string | null;
  readonly relay: string | null;
}

interface NatView {
  readonly type: string;
  readonly public_endpoint: string | null;
  readonly reason: string;
  readonly punch: { readonly forwarded: number; readonly dropped: Record<string, number> };
  readonly relay: { readonly framesForwarded: number; readonly dropped: Record<string, number> };
}

/** Polls `check` (a throw counts as not yet: a daemon may still be starting). */
async function until(check: () => boolean, timeoutMs: number, what: () => string): Promise<number> {
  const started = Date.now();
  const holds = (): boolean => {
    try {
      return check();
    } catch {
      return false;
    }
  };
  while (!holds()) {
    if (Date.now() - started > timeoutMs) {
      let detail: string;
      try {
        detail = what();
      } catch (err) {
        detail = String(err);
      }
      throw new Error(`timed out after ${timeoutMs} ms: ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - started;
}

const available = allAvailable(
  rootAvailable(),
  netnsAvailable(),
  tunAvailable(),
  pingAvailable(),
  binaryAvailable('iptables'),
  binaryAvailable('turnserver'),
  binaryAvailable('iperf3'),
);

describe('NAT traversal through real Linux NAT, with coturn as STUN', { timeout: 300_000 }, () => {
  let lab: MeshLab | null = null;
  let nat: NatLab | null = null;
  const nodes: Record<'relay' | 'coneA' | 'coneB' | 'symC' | 'symD' | 'split', LabNode> = {} as never;
  const status = (n: LabNode): { nat: NatView; members: MemberView[] } =>
    JSON.parse(lab!.control(n, ['status', '--json'])) as { nat: NatView; members: MemberView[] };
  const view = (n: LabNode, target: LabNode): MemberView | undefined =>
    status(n).members.find((m) => m.meshIPv4 === target.meshIPv4);
  const diagnostics = (): string => lab!.nodes.map((n) => `--- ${n.name}\n${n.daemon?.output() ?? ''}`).join('\n');

  before(() => {
    if (!available.available) return;
    lab = new MeshLab(224);
    nat = new NatLab(lab);
    nat.startStunServers();
    nodes.relay = lab.addNode();
    nodes.coneA = lab.addNode({ site: nat.site('cone') });
    nodes.coneB = lab.addNode({ site: nat.site('cone') });
    nodes.symC = lab.addNode({ site: nat.site('symmetric') });
    nodes.symD = lab.addNode({ site: nat.site('symmetric') });
    nodes.split = lab.addNode({ site: nat.site('split') });
    const stun = nat.stunServers.flatMap((s) => ['--stun', s]);
    lab.start(nodes.relay, [], [...stun, '--metrics', '127.0.0.1:9101']);
    for (const n of lab.nodes) {
      if (n !== nodes.relay)
        lab.start(n, [nodes.relay], [...stun, ...(n === nodes.symC ? ['--metrics', '127.0.0.1:9101'] : [])]);
    }
  });
  after(async () => {
    await lab?.destroy();
  });

  it('STUN against two coturn servers classifies public, cone, symmetric, and unknown when they disagree', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const expected: Array<[LabNode, string]> = [
      [nodes.relay, 'public'],
      [nodes.coneA, 'cone'],
      [nodes.coneB, 'cone'],
      [nodes.symC, 'symmetric'],
      [nodes.symD, 'symmetric'],
    ];
    await until(
      () => expected.every(([n, type]) => status(n).nat.type === type),
      30_000,
      () => `${expected.map(([n]) => `${n.name}: ${JSON.stringify(status(n).nat)}`).join('\n')}\n${diagnostics()}`,
    );
    assert.equal(status(nodes.coneA).nat.public_endpoint, `${nat!.wanAddress(1)}:51821`);
    const split = status(nodes.split).nat;
    assert.equal(split.type, 'unknown');
    assert.match(split.reason, /disagree/);
    // Gossiped: the others learn each node's type.
    await until(
      () =>
        view(nodes.coneB, nodes.coneA)?.natType === 'cone' &&
        view(nodes.relay, nodes.symC)?.natType === 'symmetric' &&
        view(nodes.relay, nodes.coneB)?.natType === 'cone',
      30_000,
      diagnostics,
    );
  });

  it('two cone-NATed nodes end on a direct path', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const l = lab!;
    const { coneA, coneB } = nodes;
    const ms = await until(
      () => l.canPing(coneA, coneB) && l.canPing(coneB, coneA),
      60_000,
      () => `${JSON.stringify(view(coneA, coneB))}\n${diagnostics()}`,
    );
    await until(
      () =>
        ['direct', 'punched'].includes(view(coneA, coneB)?.path ?? '') &&
        ['direct', 'punched'].includes(view(coneB, coneA)?.path ?? ''),
      30_000,
      () => `${JSON.stringify(view(coneA, coneB))} ${JSON.stringify(view(coneB, coneA))}\n${diagnostics()}`,
    );
    const path = view(coneA, coneB)!;
    t.diagnostic(`cone↔cone: pings after ${ms} ms; path ${path.path} via ${path.endpoint ?? '?'}`);
  });

  it('two symmetric-NATed nodes talk through a relay', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const l = lab!;
    const { symC, symD, relay } = nodes;
    const ms = await until(
      () => l.canPing(symC, symD) && l.canPing(symD, symC),
      90_000,
      () => `${JSON.stringify(view(symC, symD))}\n${diagnostics()}`,
    );
    const c = view(symC, symD)!;
    const d = view(symD, symC)!;
    assert.equal(c.path, 'relay', JSON.stringify(c));
    assert.equal(d.path, 'relay', JSON.stringify(d));
    assert.equal(c.relay, `${relay.lanAddress}:51821`);
    assert.ok(status(relay).nat.relay.framesForwarded > 0);
    t.diagnostic(`symmetric↔symmetric: pings through the relay after ${ms} ms`);
    // The same, as Prometheus sees it.
    const metric = (n: LabNode, series: string): number => {
      const text = l.topology.exec(n.ns, [
        process.execPath,
        '-e',
        "fetch('http://127.0.0.1:9101/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
      ]);
      const line = text.split('\n').find((x) => x.startsWith(`${series} `));
      return Number(line?.split(' ')[1]);
    };
    assert.ok(metric(symC, 'meshguard_peers{path="relay"}') >= 1);
    assert.equal(metric(symC, 'meshguard_nat_type{type="symmetric"}'), 1);
    assert.ok(metric(relay, 'meshguard_relay_frames_total{result="forwarded"}') > 0);
  });

  it('forged hole-punch requests, guessed probes and relay frames from a stranger redirect nothing', async (t) => {
    if (!requireCapability(t, available.available, available.reason)) return;
    const l = lab!;
    const { coneA, coneB, relay } = nodes;
    const attacker = l.addHost('attacker', 230);
    const before = { a: view(coneA, coneB)!, b: view(coneB, coneA)!, relay: status(relay).nat };
    const sent = l.attack(attacker.ns, [
      'nat',
      relay.lanAddress,
      coneA.publicKey,
      coneB.publicKey,
      nat!.wanAddress(1),
      nat!.wanAddress(2),
      attacker.lanAddress,
    ]);
    await new Promise((r) => setTimeout(r, 2000));
    const afterRelay = status(relay).nat;
    assert.equal(afterRelay.punch.forwarded, before.relay.punch.forwarded, 'no forged request forwarded');
    assert.ok(
      (afterRelay.punch.dropped['request from a sender not at its known address'] ?? 0) >= 20,
      JSON.stringify(afterRelay.punch.dropped),
    );
    assert.ok(
      (afterRelay.relay.dropped['sender not at its known address'] ?? 0) >= 20,
      JSON.stringify(afterRelay.relay.dropped),
    );
    assert.equal(view(coneA, coneB)!.endpoint, before.a.endpoint);
    assert.equal(view(coneB, coneA)!.endpoint, before.b.endpoint);
    assert.ok(l.canPing(coneA, coneB));
    t.diagnostic(`${sent} forged datagrams; paths unchanged`);
  });
});
