import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inCi, requireCapability } from '../src/testing/index.js';

describe('requireCapability', () => {
  const recorder = (): { skipped: string[]; skip: (msg?: string) => void } => {
    const skipped: string[] = [];
    return { skipped, skip: (msg?: string) => skipped.push(msg ?? '') };
  };
  it('proceeds when the capability is there', () => {
    const t = recorder();
    assert.equal(requireCapability(t, true, 'root', { CI: 'true' }), true);
    assert.deepEqual(t.skipped, []);
  });
  it('skips with the reason on a developer machine', () => {
    const t = recorder();
    assert.equal(requireCapability(t, false, 'needs root', {}), false);
    assert.deepEqual(t.skipped, ['needs root']);
  });
  it('fails under CI instead of skipping', () => {
    const t = recorder();
    assert.throws(() => requireCapability(t, false, 'needs root', { CI: 'true' }), /missing in CI: needs root/);
    assert.deepEqual(t.skipped, []);
  });
  it('reads CI the way CI systems set it', () => {
    assert.equal(inCi({ CI: 'true' }), true);
    assert.equal(inCi({ CI: '1' }), true);
    assert.equal(inCi({ CI: 'false' }), false);
    assert.equal(inCi({}), false);
  });
});
