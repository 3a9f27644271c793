import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError, MeshguardError } from '@meshguard/core';
import {
  certificateVersion,
  CelMessage,
  parseMeshOrg,
  ResourceValidationError,
  validateMeshOrg,
  type FieldError,
} from '@meshguard/core/kube';
import { meshOrg } from './fixtures.js';
import { INVALID_CASES } from './invalid-cases.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

function has(errors: readonly FieldError[], path: string, message: string): boolean {
  return errors.some((e) => e.path === path && e.message.includes(message));
}

describe('validateMeshOrg', () => {
  it('accepts an org with no spec at all (the CRD defaults everything)', () => {
    assert.deepEqual(validateMeshOrg(meshOrg('acme')), []);
    assert.deepEqual(validateMeshOrg({ ...meshOrg('acme'), spec: undefined }), []);
  });

  it('accepts a fully specified org', () => {
    const org = meshOrg('acme', {
      displayName: 'ACME Corp. production mesh',
      dnsAlias: 'acme',
      certificate: { format: 'v1', lifetime: '1y' },
      enrollmentPolicy: 'Manual',
      keySecretRef: { name: 'acme.org-key', namespace: 'meshguard-system' },
      rotation: { renewBefore: '30d', keyOverlap: '1h30m' },
    });
    assert.deepEqual(validateMeshOrg(org), []);
  });

  it('accepts the bounds themselves and durations written in parts', () => {
    for (const lifetime of ['1h', '60m', '3600s', '10y', '3650d', '1w2d3h4m5s']) {
      assert.deepEqual(validateMeshOrg(meshOrg('acme', { certificate: { lifetime } })), [], lifetime);
    }
    for (const keyOverlap of ['1h', '1y', '52w1d']) {
      assert.deepEqual(validateMeshOrg(meshOrg('acme', { rotation: { keyOverlap } })), [], keyOverlap);
    }
    assert.deepEqual(validateMeshOrg(meshOrg('acme', { rotation: { renewBefore: '5m' } })), []);
    assert.deepEqual(validateMeshOrg(meshOrg('acme', { rotation: { renewBefore: '89d23h59m59s' } })), []);
  });

  for (const c of INVALID_CASES.filter((x) => x.kind === 'MeshOrg')) {
    it(`refuses: ${c.title}`, () => {
      const errors = validateMeshOrg(c.object);
      assert.ok(has(errors, c.path, c.message), `expected ${c.path}: ${c.message}\ngot ${JSON.stringify(errors)}`);
    });
  }

  it('reports every problem at once, each at its own path', () => {
    const errors = validateMeshOrg(
      meshOrg('acme', {
        dnsAlias: 'Not A Label',
        certificate: { format: 'v9', lifetime: 90 },
        rotation: { keyOverlap: '0s' },
        keySecretRef: { name: 'key' },
      }),
    );
    assert.deepEqual(
      errors.map((e) => `${e.path} ${e.reason}`),
      [
        'spec.dnsAlias invalid',
        'spec.certificate.format unsupported',
        'spec.certificate.lifetime type',
        'spec.keySecretRef.namespace required',
        'spec.rotation.keyOverlap invalid',
      ],
    );
    assert.ok(has(errors, 'spec.rotation.keyOverlap', CelMessage.keyOverlapBounds));
  });

  it('checks apiVersion, kind and metadata', () => {
    const paths = (v: unknown): string[] => validateMeshOrg(v).map((e) => e.path);
    assert.deepEqual(paths({ ...meshOrg('acme'), apiVersion: 'meshguard.dev/v1' }), ['apiVersion']);
    assert.deepEqual(paths({ ...meshOrg('acme'), kind: 'MeshNode' }), ['kind']);
    assert.deepEqual(paths({ apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg' }), ['metadata']);
    assert.deepEqual(paths({ ...meshOrg('acme'), metadata: {} }), ['metadata.name']);
    assert.deepEqual(paths([]), ['<root>']);
    assert.deepEqual(paths(null), ['<root>']);
  });

  it('parseMeshOrg returns the typed object with spec defaulted, or a typed error listing the fields', () => {
    const org = parseMeshOrg({ apiVersion: 'meshguard.dev/v1alpha1', kind: 'MeshOrg', metadata: { name: 'acme' } });
    assert.deepEqual(org.spec, {});
    assert.equal(certificateVersion(org.spec.certificate?.format ?? 'v2'), 2);
    assert.equal(certificateVersion('v1'), 1);

    const err = thrown(() => parseMeshOrg(meshOrg('acme', { enrollmentPolicy: 'Later' })));
    assert.ok(err instanceof ResourceValidationError && err instanceof ArgumentError && err instanceof MeshguardError);
    assert.equal(err.code, 'invalid-argument');
    assert.equal(err.kind, 'MeshOrg');
    assert.equal(err.objectName, 'acme');
    assert.deepEqual(
      err.errors.map((e) => e.path),
      ['spec.enrollmentPolicy'],
    );
    assert.match(err.message, /^MeshOrg "acme" is invalid: spec\.enrollmentPolicy: Unsupported value: "Later"/);
  });
});
