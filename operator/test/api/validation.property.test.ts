import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateMeshNode, validateMeshOrg, type FieldError } from '@meshguard/core/kube';
import { clusterNode, meshOrg, NODE_KEY, OFF_CURVE_KEY, WIREGUARD_KEY, ZERO_KEY, type Json } from './fixtures.js';

const RUNS = { numRuns: 1000 };

function wellFormed(errors: unknown): void {
  assert.ok(Array.isArray(errors));
  for (const e of errors as FieldError[]) {
    assert.equal(typeof e.path, 'string');
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length > 0);
  }
}

/** Values near the rules' edges, so mutated objects reach the deep checks, not just type errors. */
const edgy = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(NODE_KEY, WIREGUARD_KEY, ZERO_KEY, OFF_CURVE_KEY, 'all', '0-65535', '9-1', '1h', '10y', '0s'),
  fc.constantFrom('999999y', '1y1w1d1h1m1s', 'never', 'v1', 'v2', 'Manual', 'admin-removed', 'a'.repeat(33)),
  fc.stringMatching(/^[0-9]{1,7}[smhdwyx]?$/),
  fc.stringMatching(/^[A-Za-z0-9+/=-]{40,46}$/),
  fc.integer({ min: -70000, max: 70000 }),
);

/** A valid object with some fields (anywhere in spec, rules included) replaced by arbitrary values. */
function mutated(base: Json, keys: readonly string[]): fc.Arbitrary<Json> {
  return fc
    .record({
      spec: fc.dictionary(fc.constantFrom(...keys), edgy, { maxKeys: 4 }),
      rules: fc.array(fc.dictionary(fc.constantFrom('action', 'protocol', 'ports'), edgy), { maxLength: 3 }),
      name: fc.oneof(fc.constant(undefined), edgy),
    })
    .map(({ spec, rules, name }) => ({
      ...base,
      metadata: name === undefined ? base['metadata'] : { name },
      spec: { ...(base['spec'] as Json), ...spec, servicePolicy: { rules } },
    }));
}

describe('validation never throws (property)', () => {
  it('validateMeshOrg on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => wellFormed(validateMeshOrg(v))),
      RUNS,
    );
  });

  it('validateMeshNode on any JSON value, with any previous object', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (v, previous) => {
        wellFormed(validateMeshNode(v));
        wellFormed(validateMeshNode(v, { previous, certificateFormat: 'v2' }));
      }),
      RUNS,
    );
  });

  it('validateMeshOrg on valid orgs with fields replaced', () => {
    const org = meshOrg('acme', { certificate: { lifetime: '90d' }, rotation: { renewBefore: '30d' } });
    const keys = ['displayName', 'dnsAlias', 'certificate', 'enrollmentPolicy', 'keySecretRef', 'rotation'];
    fc.assert(
      fc.property(mutated(org, keys), edgy, edgy, (o, lifetime, renewBefore) => {
        wellFormed(validateMeshOrg(o));
        wellFormed(validateMeshOrg({ ...o, spec: { certificate: { lifetime }, rotation: { renewBefore } } }));
      }),
      RUNS,
    );
  });

  it('validateMeshNode on valid nodes with fields replaced, as create and as update', () => {
    const node = clusterNode('worker-1');
    const keys = [
      'org',
      'publicKey',
      'wireguardPublicKey',
      'nodeName',
      'external',
      'dnsName',
      'lifetime',
      'approved',
      'revoked',
      'revocationReason',
    ];
    fc.assert(
      fc.property(mutated(node, keys), mutated(node, keys), (n, previous) => {
        wellFormed(validateMeshNode(n));
        wellFormed(validateMeshNode(n, { previous, certificateFormat: 'v2' }));
      }),
      RUNS,
    );
  });
});
