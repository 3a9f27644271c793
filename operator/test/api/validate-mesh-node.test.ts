import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevocationReason } from '@meshguard/core';
import {
  certificateNodeNameOf,
  DepthMessage,
  parseMeshNode,
  ResourceValidationError,
  revocationReasonCode,
  toServiceRule,
  validateMeshNode,
  type FieldError,
} from '@meshguard/core/kube';
import {
  clusterNode,
  externalNode,
  meshNode,
  NODE_KEY,
  OFF_CURVE_KEY,
  SMALL_ORDER_KEY,
  SMALL_ORDER_WIREGUARD_KEY,
  ZERO_KEY,
} from './fixtures.js';
import { INVALID_CASES } from './invalid-cases.js';

function has(errors: readonly FieldError[], path: string, message: string): boolean {
  return errors.some((e) => e.path === path && e.message.includes(message));
}

function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}

describe('validateMeshNode', () => {
  it('accepts a cluster node as its agent applies it and an external host as an admin does', () => {
    assert.deepEqual(validateMeshNode(clusterNode('worker-1')), []);
    assert.deepEqual(validateMeshNode(externalNode('db-1', { approved: true, lifetime: '30d' })), []);
  });

  it('accepts a long object name when spec.dnsName gives the certificate name', () => {
    const node = clusterNode('ip-10-0-12-34.eu-west-1.compute.internal', { dnsName: 'ip-10-0-12-34' });
    assert.deepEqual(validateMeshNode(node), []);
    assert.equal(certificateNodeNameOf(parseMeshNode(node)), 'ip-10-0-12-34');
    assert.equal(certificateNodeNameOf(parseMeshNode(externalNode('db-1'))), 'db-1');
  });

  it('accepts every form of service rule the policy files accept', () => {
    const node = externalNode('web', {
      servicePolicy: {
        defaultAction: 'deny',
        rules: [
          { action: 'allow', protocol: 'tcp', ports: 22 },
          { action: 'allow', protocol: 'tcp', ports: '80' },
          { action: 'allow', protocol: 'udp', ports: '51820-51830' },
          { action: 'deny', ports: 0 },
          { action: 'allow', protocol: 'all', ports: '0-0' },
          { action: 'allow', ports: 65535 },
          { action: 'deny' },
        ],
      },
    });
    assert.deepEqual(validateMeshNode(node), []);
    const rules = parseMeshNode(node).spec.servicePolicy?.rules ?? [];
    assert.deepEqual(
      rules.map((r) => toServiceRule(r)),
      [
        { action: 'allow', proto: 'tcp', ports: { low: 22, high: 22 } },
        { action: 'allow', proto: 'tcp', ports: { low: 80, high: 80 } },
        { action: 'allow', proto: 'udp', ports: { low: 51820, high: 51830 } },
        { action: 'deny', proto: 'all', ports: 'all' },
        { action: 'allow', proto: 'all', ports: 'all' },
        { action: 'allow', proto: 'all', ports: { low: 65535, high: 65535 } },
        { action: 'deny', proto: 'all', ports: 'all' },
      ],
    );
  });

  for (const c of INVALID_CASES.filter((x) => x.kind === 'MeshNode')) {
    it(`refuses: ${c.title}`, () => {
      if (c.previous !== undefined) assert.deepEqual(validateMeshNode(c.previous), [], 'the previous object is valid');
      const errors = validateMeshNode(c.object, c.previous === undefined ? {} : { previous: c.previous });
      assert.ok(has(errors, c.path, c.message), `expected ${c.path}: ${c.message}\ngot:\n${describeErrors(errors)}`);
    });
  }

  it('accepts updates that keep the identity: new tunnel key, approval, revocation with a reason', () => {
    const previous = clusterNode('worker-1');
    const wireguardPublicKey = 'GVShdFc2u7uIpTflE1AQGgJtP8LU/KJ11P9ZojGgF34=';
    for (const next of [
      clusterNode('worker-1', { wireguardPublicKey }),
      clusterNode('worker-1', { approved: true }),
      clusterNode('worker-1', { revoked: true, revocationReason: 'key-compromised' }),
    ]) {
      assert.deepEqual(validateMeshNode(next, { previous }), []);
    }
    const revoked = clusterNode('worker-1', { revoked: true });
    assert.deepEqual(
      validateMeshNode(clusterNode('worker-1', { revoked: true, approved: true }), { previous: revoked }),
      [],
    );
  });

  // What CEL cannot check: the bytes are canonical base64, but no key anyone can hold.
  for (const [title, key, problem] of [
    ['the all-zero identity key', ZERO_KEY, 'is the all-zero key'],
    ['a small-order identity key', SMALL_ORDER_KEY, 'is a small-order point'],
    ['an identity key off the curve', OFF_CURVE_KEY, 'is not a point on the Ed25519 curve'],
  ] as const) {
    it(`refuses ${title} (which the CRD accepts)`, () => {
      const errors = validateMeshNode(externalNode('x', { publicKey: key }));
      assert.deepEqual(errors, [
        { path: 'spec.publicKey', reason: 'invalid', message: DepthMessage.identityKey(problem) },
      ]);
    });
  }

  it('refuses small-order and zero WireGuard keys (which the CRD accepts)', () => {
    for (const key of [SMALL_ORDER_WIREGUARD_KEY, ZERO_KEY]) {
      const errors = validateMeshNode(clusterNode('w', { wireguardPublicKey: key }));
      const [error] = errors;
      assert.ok(errors.length === 1 && error !== undefined, describeErrors(errors));
      assert.equal(error.path, 'spec.wireguardPublicKey');
      assert.match(
        error.message,
        /^must be a valid X25519 public key \(this key is (a small-order X25519 point|all zero)\)$/,
      );
    }
  });

  it('requires the WireGuard key when the org issues v2 certificates, and only then', () => {
    const node = externalNode('db-1');
    assert.deepEqual(validateMeshNode(node, { certificateFormat: 'v1' }), []);
    assert.deepEqual(validateMeshNode(node), []);
    assert.deepEqual(validateMeshNode(node, { certificateFormat: 'v2' }), [
      { path: 'spec.wireguardPublicKey', reason: 'required', message: DepthMessage.wireguardKeyForV2 },
    ]);
    assert.deepEqual(validateMeshNode(clusterNode('w'), { certificateFormat: 'v2' }), []);
  });

  it('reports every problem at once, and reports each failing ports rule as the API server does', () => {
    const errors = validateMeshNode(
      meshNode('Bad Name', {
        org: 'acme',
        publicKey: 42,
        external: 'yes',
        servicePolicy: { rules: [{ action: 'allow', ports: '99999-1' }, 'allow all', { ports: 22.5 }] },
      }),
    );
    assert.deepEqual(
      errors.map((e) => `${e.path} ${e.reason}`),
      [
        'spec.publicKey type',
        'spec.external type',
        'spec invalid',
        'spec.servicePolicy.rules[0].ports invalid',
        'spec.servicePolicy.rules[0].ports invalid',
        'spec.servicePolicy.rules[1] type',
        'spec.servicePolicy.rules[2].action required',
        'spec.servicePolicy.rules[2].ports type',
        'metadata.name invalid',
      ],
    );
  });

  it('treats null as absent, as the API server prunes it', () => {
    assert.deepEqual(validateMeshNode(externalNode('db-1', { nodeName: null, lifetime: null, dnsName: null })), []);
  });

  it('caps the rules at the 64 a policy file may hold', () => {
    const rules = Array.from({ length: 65 }, () => ({ action: 'allow' }));
    const errors = validateMeshNode(externalNode('db-1', { servicePolicy: { rules } }));
    assert.deepEqual(
      errors.map((e) => `${e.path} ${e.reason}`),
      ['spec.servicePolicy.rules too-long'],
    );
  });

  it('needs a spec, and survives any previous object', () => {
    const errors = validateMeshNode({
      apiVersion: 'meshguard.dev/v1alpha1',
      kind: 'MeshNode',
      metadata: { name: 'x' },
    });
    assert.deepEqual(
      errors.map((e) => e.path),
      ['spec'],
    );
    for (const previous of [null, 'x', [], {}, { spec: [] }, { spec: { org: 7 } }]) {
      assert.deepEqual(validateMeshNode(externalNode('db-1'), { previous }), [], JSON.stringify(previous));
    }
  });

  it('parseMeshNode throws a ResourceValidationError with every field', () => {
    try {
      parseMeshNode(externalNode('db-1', { publicKey: NODE_KEY.toLowerCase(), dnsName: '-x' }));
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof ResourceValidationError);
      assert.equal(err.objectName, 'db-1');
      assert.deepEqual(
        err.errors.map((e) => e.path),
        ['spec.publicKey', 'spec.dnsName'],
      );
    }
  });

  it('maps revocation reasons to their wire codes (spec §5.3), admin-removed when unset', () => {
    assert.equal(revocationReasonCode(undefined), RevocationReason.adminRemoved);
    assert.equal(revocationReasonCode('admin-removed'), 2);
    assert.equal(revocationReasonCode('key-compromised'), 1);
    assert.equal(revocationReasonCode('unspecified'), 0);
  });
});
