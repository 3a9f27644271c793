import {
  deriveWireGuardKeyPair,
  encodeNodeCertificate,
  issueCertificate,
  keyPairFromSeed,
  TrustSet,
  type Ed25519KeyPair,
} from '@meshguard/core';
import type { RandomSource } from '../swim/random-source.js';
import { SeededRandom } from '../swim/random-source.js';
import type { SwimConfig } from '../swim/swim-config.js';
import { SharedOpenTrust } from './sim-trust.js';
import { Simulation, type SimulationOptions } from './simulation.js';

/**
 * `org`: every host has an org-signed v2 certificate and its own trust set trusting the org —
 * the realistic deployment, with revocations and vouches working per host. `open`: one
 * shared, memoised open-mode trust (see SharedOpenTrust), for runs too large for per-host
 * signature checks.
 */
export type MeshTrust = 'org' | 'open';

export interface MeshOptions extends SimulationOptions {
  readonly size: number;
  readonly trust: MeshTrust;
  readonly hostConfig?: (index: number) => Partial<SwimConfig>;
}

export interface SimMesh {
  readonly sim: Simulation;
  /** The org that certified the hosts (org trust only). */
  readonly org: Ed25519KeyPair | null;
  readonly identities: readonly Ed25519KeyPair[];
  /** Each host's TrustSet (org trust only), e.g. to check a revocation reached it. */
  readonly trustSets: readonly TrustSet[];
}

const OPEN_STAND_IN: Partial<SwimConfig> = {
  unauthenticatedGrowthPerSecond: 1_000_000,
  unauthenticatedGrowthBurst: 1_000_000,
};

/** Unix seconds of the simulation's epoch, for certificate timestamps. */
const ISSUED_AT = 1_700_000_000n;

export function seededKeyPair(random: RandomSource): Ed25519KeyPair {
  const seed = new Uint8Array(32);
  const view = new DataView(seed.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(i * 4, random.nextUint32());
  return keyPairFromSeed(seed);
}

/** A mesh of `size` hosts, none joined yet; keys, certificates and the run all follow from `seed`. */
export function buildMesh(options: MeshOptions): SimMesh {
  // Open trust stands in for org trust here, whose members are authenticated and therefore
  // not subject to the cap on unauthenticated growth; keep the cap out of the way.
  const config = options.trust === 'open' ? { ...OPEN_STAND_IN, ...options.config } : options.config;
  const sim = new Simulation({ ...options, ...(config === undefined ? {} : { config }) });
  const keys = new SeededRandom(options.seed ^ 0x5eed5eed);
  const identities: Ed25519KeyPair[] = [];
  const trustSets: TrustSet[] = [];
  if (options.trust === 'open') {
    const trust = new SharedOpenTrust();
    for (let i = 0; i < options.size; i++) {
      const identity = seededKeyPair(keys);
      identities.push(identity);
      sim.addHost({ identity, trust, config: options.hostConfig?.(i) ?? {} });
    }
    return { sim, org: null, identities, trustSets };
  }
  const org = seededKeyPair(keys);
  for (let i = 0; i < options.size; i++) {
    const identity = seededKeyPair(keys);
    identities.push(identity);
    const wg = deriveWireGuardKeyPair(identity.seed);
    const certificate = issueCertificate(org, {
      nodePublicKey: identity.publicKey,
      nodeName: `node-${i}`,
      issuedAt: ISSUED_AT,
      expiresAt: 0n,
      wgPublicKey: wg.publicKey,
    });
    const trust = new TrustSet({ self: identity.publicKey, trustedOrgs: [{ name: 'sim', publicKey: org.publicKey }] });
    trustSets.push(trust);
    sim.addHost({
      identity,
      trust,
      wgPublicKey: wg.publicKey,
      certificate: encodeNodeCertificate(certificate),
      config: options.hostConfig?.(i) ?? {},
    });
  }
  return { sim, org, identities, trustSets };
}
