import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeBase64, generateKeyPair } from '@meshguard/core';
import { setCondition } from '@meshguard/core/kube';
import { lifetimeSeconds, planCertificate, renewBeforeSeconds } from '../../src/reconcilers/certificate-plan.js';
import { jsonEqual, statusDiffers } from '../../src/reconcilers/status-patch.js';
import {
  CONFIGMAP_LIMIT_BYTES,
  configMapSize,
  DEFAULT_SHARD_BUDGET_BYTES,
  placeEntry,
  revocationFileName,
} from '../../src/reconcilers/trust-configmap.js';

describe('revocation shard placement', () => {
  it('fills the last shard, then opens a new one; never refills earlier shards', () => {
    assert.deepEqual(placeEntry([], 205, 700), { shard: 0, create: true });
    assert.deepEqual(placeEntry([410], 205, 700), { shard: 0, create: false });
    assert.deepEqual(placeEntry([615], 205, 700), { shard: 1, create: true });
    assert.deepEqual(placeEntry([0, 615], 205, 700), { shard: 2, create: true });
    assert.throws(() => placeEntry([], 701, 700));
  });

  it('a full default-budget shard of real revocations stays under the API server limit', () => {
    const entry = { [revocationFileName(generateKeyPair().publicKey)]: encodeBase64(new Uint8Array(138)) };
    const perEntry = configMapSize({ binaryData: entry });
    assert.equal(perEntry, 23 + 184);
    const entries = Math.floor(DEFAULT_SHARD_BUDGET_BYTES / perEntry);
    // The budget counts base64, the API server raw bytes: the real size is smaller still.
    assert.ok(entries * (23 + 138) < CONFIGMAP_LIMIT_BYTES);
    assert.ok(entries * perEntry <= DEFAULT_SHARD_BUDGET_BYTES);
  });
});

describe('certificate plan', () => {
  const org = generateKeyPair();
  const inputs = {
    version: 2 as const,
    nodePublicKey: generateKeyPair().publicKey,
    nodeName: 'db-1',
    wgPublicKey: generateKeyPair().publicKey,
    lifetimeSeconds: 3600,
    renewBeforeSeconds: 1200,
  };

  it('keeps a matching certificate until renewBefore, then re-signs', () => {
    const first = planCertificate(org, undefined, inputs, 1000n);
    assert.ok(first.issued);
    assert.equal(first.renewAt, 1000n + 2400n);
    const kept = planCertificate(org, first.encoded, inputs, 3399n);
    assert.ok(!kept.issued);
    assert.equal(kept.encoded, first.encoded);
    assert.ok(planCertificate(org, first.encoded, inputs, 3400n).issued);
  });

  it('re-signs when an input changes: name, WireGuard key, lifetime, org key, format', () => {
    const first = planCertificate(org, undefined, inputs, 1000n);
    for (const changed of [
      { ...inputs, nodeName: 'db-2' },
      { ...inputs, wgPublicKey: generateKeyPair().publicKey },
      { ...inputs, lifetimeSeconds: 7200 },
      { ...inputs, version: 1 as const },
    ]) {
      assert.ok(planCertificate(org, first.encoded, changed, 1001n).issued, JSON.stringify(changed.nodeName));
    }
    assert.ok(planCertificate(generateKeyPair(), first.encoded, inputs, 1001n).issued);
    assert.ok(planCertificate(org, 'garbage', inputs, 1001n).issued);
  });

  it('defaults renewBefore to a third of the lifetime, also when the org value is not shorter', () => {
    assert.equal(lifetimeSeconds(undefined, undefined), 90 * 86400);
    assert.equal(lifetimeSeconds('12h', '90d'), 12 * 3600);
    assert.equal(renewBeforeSeconds(undefined, 9000), 3000);
    assert.equal(renewBeforeSeconds('10m', 9000), 600);
    assert.equal(renewBeforeSeconds('30d', 3600), 1200);
  });
});

describe('status comparison', () => {
  it('ignores key order and fields it does not own; sees condition and value changes', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const conditions = setCondition(
      [],
      { type: 'Ready', status: 'True', observedGeneration: 1, reason: 'Ok', message: '' },
      now,
    );
    const current = { conditions, revocation: { reason: 'admin-removed', revokedAt: 'x' }, lastSeen: 'y' };
    assert.ok(!statusDiffers(current, { conditions, revocation: { revokedAt: 'x', reason: 'admin-removed' } }));
    assert.ok(statusDiffers(current, { conditions, publicKey: 'k' }));
    assert.ok(!statusDiffers(current, { publicKey: null }));
    const later = setCondition(
      conditions,
      { type: 'Ready', status: 'True', observedGeneration: 2, reason: 'Ok', message: '' },
      now,
    );
    assert.ok(statusDiffers(current, { conditions: later }));
    assert.ok(jsonEqual([1, { a: 2 }], [1, { a: 2 }]));
    assert.ok(!jsonEqual([1], [1, 2]));
  });
});
