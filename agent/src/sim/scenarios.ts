import type { SimMesh } from './mesh-builder.js';
import type { MeshObserver } from './mesh-observer.js';

/**
 * Building blocks of the benchmark and the simulation tests: start a mesh, wait for it to
 * converge, kill a host and time its detection, count false positives. Each returns virtual
 * times; none reads a real clock.
 */

/** Every host joins through `seeds`, at times spread evenly over `windowMs` (seeds first). */
export function joinAll(mesh: SimMesh, seeds: readonly number[], windowMs: number): void {
  const { sim } = mesh;
  const n = sim.hosts.length;
  const start = sim.now;
  for (let i = 0; i < n; i++) {
    const at = start + Math.floor((i * windowMs) / Math.max(1, n));
    sim.at(at, () => sim.join(i, seeds));
  }
}

/** Hosts still running (not killed, not left). */
export function liveHosts(mesh: SimMesh): number[] {
  return mesh.sim.hosts.filter((h) => h.running && h.node.status === 'running').map((h) => h.index);
}

/** Virtual time at which every live host holds every other as alive, or null within `maxMs`. */
export function runUntilConverged(mesh: SimMesh, observer: MeshObserver, maxMs: number, stepMs = 500): number | null {
  return mesh.sim.runUntilTrue(() => observer.converged(liveHosts(mesh)), maxMs, stepMs);
}

export interface DetectionResult {
  readonly killedAt: number;
  /** When the first live host marked the victim dead, relative to the kill. */
  readonly firstMs: number | null;
  /** When the last one did (everyone), relative to the kill; null if not within the limit. */
  readonly allMs: number | null;
  /** Median over hosts. */
  readonly medianMs: number | null;
}

/** Crashes `victim` now and runs until every other live host has marked it dead (or `maxMs`). */
export function killAndDetect(
  mesh: SimMesh,
  observer: MeshObserver,
  victim: number,
  maxMs: number,
  stepMs = 250,
): DetectionResult {
  const { sim } = mesh;
  observer.markDown(victim);
  sim.kill(victim);
  const killedAt = sim.now;
  const observers = liveHosts(mesh);
  sim.runUntilTrue(() => observer.allMarkedGone(victim, observers), maxMs, stepMs);
  const marks = [...observer.goneMarks(victim).entries()]
    .filter(([o]) => observers.includes(o))
    .map(([, t]) => t - killedAt)
    .sort((a, b) => a - b);
  const all = marks.length === observers.length ? marks.at(-1)! : null;
  return {
    killedAt,
    firstMs: marks[0] ?? null,
    allMs: all,
    medianMs: marks.length === 0 ? null : marks[Math.floor(marks.length / 2)]!,
  };
}

/** A stable digest of every host's view and traffic: equal runs give equal digests. */
export function runDigest(mesh: SimMesh): string {
  const parts: string[] = [];
  for (const h of mesh.sim.hosts) {
    const s = h.node.stats();
    parts.push(
      `${h.index}:${h.sentPackets}/${h.sentBytes}/${h.receivedPackets}:${s.members}/${s.liveMembers}:${s.incarnation}:${s.awareness}`,
    );
    for (const m of h.node.members()) parts.push(`${m.publicKeyHex.slice(0, 8)}=${m.state}@${m.incarnation}`);
  }
  return parts.join('|');
}
