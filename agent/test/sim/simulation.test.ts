import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeOrgMessage, signOrgRevoke, toHex } from '@meshguard/core';
import { encodeSwimMessage } from '../../src/swim/swim-codec.js';
import { buildMesh, type MeshOptions, type SimMesh } from '../../src/sim/mesh-builder.js';
import { MeshObserver } from '../../src/sim/mesh-observer.js';
import { joinAll, killAndDetect, liveHosts, runDigest, runUntilConverged } from '../../src/sim/scenarios.js';

const LOSSY = { latencyMinMs: 5, latencyMaxMs: 40, jitterMs: 10, loss: 0.01 };

function observedMesh(options: Omit<MeshOptions, 'onEvent'>): { mesh: SimMesh; observer: MeshObserver } {
  const observer = new MeshObserver(options.size);
  const mesh = buildMesh({ ...options, onEvent: observer.onEvent });
  mesh.identities.forEach((id, i) => observer.register(i, id.publicKey));
  return { mesh, observer };
}

function digest(seed: number): string {
  const { mesh, observer } = observedMesh({ seed, size: 20, trust: 'open', link: LOSSY });
  joinAll(mesh, [0, 1], 500);
  runUntilConverged(mesh, observer, 30_000);
  killAndDetect(mesh, observer, 7, 30_000);
  mesh.sim.run(5_000);
  return createHash('sha256').update(runDigest(mesh)).digest('hex');
}

describe('simulator', () => {
  it('is reproducible: the same seed gives the same run, another seed a different one', () => {
    const a = digest(1);
    assert.equal(digest(1), a);
    assert.notEqual(digest(2), a);
  });

  it('50 nodes joining through 3 seeds over 1% loss converge within 30 protocol periods', () => {
    const { mesh, observer } = observedMesh({ seed: 50, size: 50, trust: 'open', link: LOSSY });
    joinAll(mesh, [0, 1, 2], 1000);
    const at = runUntilConverged(mesh, observer, 30_000);
    assert.ok(at !== null, `not converged; missing pairs: ${observer.missing(liveHosts(mesh))}`);
    assert.equal(observer.falseDeaths, 0);
  });

  it('a crashed node is marked dead by every other node, with no false positives', () => {
    const { mesh, observer } = observedMesh({ seed: 3, size: 30, trust: 'open', link: LOSSY });
    joinAll(mesh, [0, 1, 2], 1000);
    assert.notEqual(runUntilConverged(mesh, observer, 30_000), null);
    const result = killAndDetect(mesh, observer, 11, 60_000);
    assert.ok(result.allMs !== null, 'not everyone noticed');
    // Suspicion min for 30 members is 4·log10(30) ≈ 5.9 s; detection + spread stays well under 20 s.
    assert.ok(result.allMs < 20_000, `took ${result.allMs} ms`);
    assert.equal(observer.falseDeaths, 0);
    for (const h of liveHosts(mesh)) {
      assert.equal(observer.state(h, 11), 'dead');
    }
  });

  it('an org revocation published on one node evicts the target on every node by gossip', () => {
    const { mesh, observer } = observedMesh({ seed: 9, size: 16, trust: 'org', link: LOSSY });
    joinAll(mesh, [0, 1], 500);
    assert.notEqual(runUntilConverged(mesh, observer, 40_000), null);
    const target = 5;
    const revoked: number[] = [];
    const { sim, org, identities } = mesh;
    const bytes = encodeOrgMessage(signOrgRevoke(org!, identities[target]!.publicKey, 2, 1n));
    sim.at(sim.now, () => sim.host(0).node.publishOrgMessage(bytes));
    const t0 = sim.now;
    const others = liveHosts(mesh).filter((h) => h !== target);
    const done = sim.runUntilTrue(() => others.every((h) => observer.state(h, target) === 'dead'), 10_000, 100);
    assert.ok(done !== null, 'revocation did not reach everyone');
    assert.ok(done - t0 <= 2_000, `took ${done - t0} ms`);
    for (const h of others) {
      if (mesh.trustSets[h]!.isRevoked(org!.publicKey, identities[target]!.publicKey)) revoked.push(h);
    }
    assert.equal(revoked.length, others.length, 'every node holds the revocation');
    // And the revoked node stays out: its own pings are refused everywhere.
    sim.run(10_000);
    assert.ok(others.every((h) => observer.state(h, target) === 'dead'));
  });

  it('an admitted member lying that a live node is dead convinces nobody', () => {
    const { mesh, observer } = observedMesh({ seed: 12, size: 20, trust: 'open', link: LOSSY });
    joinAll(mesh, [0, 1], 500);
    assert.notEqual(runUntilConverged(mesh, observer, 30_000), null);
    const { sim, identities } = mesh;
    const liar = 3;
    const victim = 8;
    const victimKey = identities[victim]!.publicKey;
    // The liar's key speaks (SWIM is unsigned, so anyone can): dead, suspect and leave claims.
    for (let round = 0; round < 20; round++) {
      sim.at(sim.now + round * 500, () => {
        for (const h of liveHosts(mesh)) {
          if (h === liar || h === victim) continue;
          const lie = encodeSwimMessage({
            kind: 'ack',
            senderPublicKey: identities[liar]!.publicKey,
            seq: BigInt(round),
            incarnation: 0n,
            gossip: (['dead', 'suspect', 'leave'] as const).map((event, i) => ({
              subjectPublicKey: victimKey,
              event,
              lamport: BigInt(1_750_000_000 + round * 3 + i),
              endpoint: null,
              wgPublicKey: null,
              publicEndpoint: null,
              natType: 'unknown' as const,
            })),
            certificate: null,
          });
          sim.inject(h, lie, sim.host(liar).address);
        }
      });
    }
    sim.run(30_000);
    for (const h of liveHosts(mesh)) {
      if (h !== victim) assert.equal(observer.state(h, victim), 'alive', `host ${h} believed the lie`);
    }
    assert.equal(observer.falseDeaths, 0);
    assert.ok(toHex(victimKey).length === 64);
  });

  it('hosts on both sides of a healed partition find each other again', () => {
    const { mesh, observer } = observedMesh({
      seed: 21,
      size: 12,
      trust: 'open',
      link: LOSSY,
      config: { reconnectIntervalMs: 5_000 },
    });
    joinAll(mesh, [0, 6], 500);
    assert.notEqual(runUntilConverged(mesh, observer, 30_000), null);
    const left = [0, 1, 2, 3, 4, 5];
    const right = [6, 7, 8, 9, 10, 11];
    mesh.sim.network.partition([left, right]);
    for (const h of [...left, ...right]) observer.markDown(h); // deaths across the cut are expected
    mesh.sim.run(60_000);
    assert.equal(observer.state(0, 6), 'dead');
    mesh.sim.network.heal();
    const at = runUntilConverged(mesh, observer, 120_000, 1000);
    assert.ok(at !== null, `not merged again; missing ${observer.missing(liveHosts(mesh))}`);
  });
});
