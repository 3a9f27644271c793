import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import {
  conditionsEqual,
  conditionTime,
  findCondition,
  isConditionTrue,
  removeCondition,
  setCondition,
  type Condition,
} from '@meshguard/core/kube';

const T0 = new Date('2025-03-01T10:00:00.123Z');
const T1 = new Date('2025-03-01T11:30:00.999Z');

const ready = (status: 'True' | 'False' | 'Unknown', observedGeneration: number, reason = 'Issued') => ({
  type: 'Ready',
  status,
  observedGeneration,
  reason,
  message: `ready is ${status}`,
});

describe('conditions', () => {
  it('writes times in whole seconds, as metav1.Time does', () => {
    assert.equal(conditionTime(T0), '2025-03-01T10:00:00Z');
  });

  it('appends a new condition with the current time', () => {
    const list = setCondition(undefined, ready('False', 1, 'Pending'), T0);
    assert.deepEqual(list, [
      {
        type: 'Ready',
        status: 'False',
        observedGeneration: 1,
        lastTransitionTime: '2025-03-01T10:00:00Z',
        reason: 'Pending',
        message: 'ready is False',
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, and takes everything else from the update', () => {
    const first = setCondition(undefined, ready('True', 1), T0);
    const second = setCondition(first, { ...ready('True', 2, 'Renewed'), message: 'renewed' }, T1);
    assert.deepEqual(findCondition(second, 'Ready'), {
      type: 'Ready',
      status: 'True',
      observedGeneration: 2,
      lastTransitionTime: '2025-03-01T10:00:00Z',
      reason: 'Renewed',
      message: 'renewed',
    });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const first = setCondition(undefined, ready('True', 1), T0);
    const second = setCondition(first, ready('False', 1, 'Expired'), T1);
    assert.equal(findCondition(second, 'Ready')?.lastTransitionTime, '2025-03-01T11:30:00Z');
  });

  it('keeps the order of other conditions and does not modify its input', () => {
    let list: Condition[] = setCondition(undefined, { ...ready('True', 1), type: 'Approved' }, T0);
    list = setCondition(list, ready('False', 1), T0);
    list = setCondition(list, { ...ready('True', 1), type: 'Revoked' }, T0);
    const frozen = structuredClone(list);
    const next = setCondition(list, ready('True', 1), T1);
    assert.deepEqual(list, frozen);
    assert.deepEqual(
      next.map((c) => `${c.type}=${c.status}`),
      ['Approved=True', 'Ready=True', 'Revoked=True'],
    );
  });

  it('an update that changes nothing yields an equal list (so a status write can be skipped)', () => {
    const list = setCondition(undefined, ready('True', 3), T0);
    assert.ok(conditionsEqual(setCondition(list, ready('True', 3), T1), list));
    assert.ok(!conditionsEqual(setCondition(list, ready('True', 4), T1), list));
    assert.ok(conditionsEqual(undefined, []));
  });

  it('counts a True condition only for the generation it was computed from', () => {
    const list = setCondition(undefined, ready('True', 4), T0);
    assert.equal(isConditionTrue(list, 'Ready'), true);
    assert.equal(isConditionTrue(list, 'Ready', 4), true);
    assert.equal(isConditionTrue(list, 'Ready', 5), false);
    assert.equal(isConditionTrue(setCondition(list, ready('False', 5), T1), 'Ready', 5), false);
    assert.equal(isConditionTrue(list, 'Approved'), false);
  });

  it('removes a condition by type', () => {
    const list = setCondition(setCondition(undefined, ready('True', 1), T0), { ...ready('True', 1), type: 'X' }, T0);
    assert.deepEqual(
      removeCondition(list, 'Ready').map((c) => c.type),
      ['X'],
    );
    assert.deepEqual(removeCondition(undefined, 'Ready'), []);
  });

  it('refuses what the API server would refuse, with a typed error naming the condition', () => {
    const bad = [
      { ...ready('True', 1), reason: 'not camel case' },
      { ...ready('True', 1), reason: '' },
      { ...ready('True', 1), type: 'has space' },
      { ...ready('True', 1), message: 'x'.repeat(32769) },
      { ...ready('True', 1), observedGeneration: -1 },
      { ...ready('True', 1), observedGeneration: 1.5 },
    ];
    for (const update of bad) {
      assert.throws(() => setCondition(undefined, update, T0), ArgumentError, JSON.stringify(update).slice(0, 80));
    }
    assert.doesNotThrow(() => setCondition(undefined, { ...ready('True', 0), type: 'meshguard.dev/Ready' }, T0));
  });
});
