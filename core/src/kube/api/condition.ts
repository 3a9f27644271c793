import { ArgumentError } from '../../index.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition, as stored in the status of both kinds. */
export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  /** The metadata.generation the condition was computed from. */
  readonly observedGeneration?: number;
  /** RFC 3339, seconds precision: when status last changed (not when the condition was last written). */
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

/** What a reconciler decides; setCondition supplies lastTransitionTime. */
export interface ConditionUpdate {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly observedGeneration: number;
  readonly reason: string;
  readonly message: string;
}

// The API server's own limits for metav1.Condition (also in both CRDs' status schemas): a
// condition that breaks them would make the whole status write fail, so refuse it here, where
// the message can name the condition.
const TYPE_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const TYPE_MAX_LENGTH = 316;
const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const REASON_MAX_LENGTH = 1024;
const MESSAGE_MAX_LENGTH = 32768;

function assertConditionUpdate(update: ConditionUpdate): void {
  if (update.type.length > TYPE_MAX_LENGTH || !TYPE_PATTERN.test(update.type)) {
    throw new ArgumentError(`condition type "${update.type}" is not a valid metav1.Condition type`);
  }
  if (update.reason.length > REASON_MAX_LENGTH || !REASON_PATTERN.test(update.reason)) {
    throw new ArgumentError(
      `condition ${update.type}: reason "${update.reason}" must be CamelCase ([A-Za-z][A-Za-z0-9_,:]*)`,
    );
  }
  if (update.message.length > MESSAGE_MAX_LENGTH) {
    throw new ArgumentError(`condition ${update.type}: message longer than ${MESSAGE_MAX_LENGTH} characters`);
  }
  if (!Number.isSafeInteger(update.observedGeneration) || update.observedGeneration < 0) {
    throw new ArgumentError(`condition ${update.type}: observedGeneration must be a non-negative integer`);
  }
}

/** metav1.Time serializes to whole seconds; writing milliseconds would make every comparison differ. */
export function conditionTime(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * True only when the condition is True *for this generation*: a Ready=True computed from an
 * older spec says nothing about the current one.
 */
export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
  generation?: number,
): boolean {
  const condition = findCondition(conditions, type);
  if (condition?.status !== 'True') return false;
  return generation === undefined || condition.observedGeneration === generation;
}

/**
 * Returns the conditions with `update` applied, in their original order (a new type goes last).
 * lastTransitionTime moves to `now` only when the status changes, so it keeps meaning "since
 * when"; reason, message and observedGeneration are always taken from the update. The input is
 * not modified, and an update that changes nothing yields an equal list.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date = new Date(),
): Condition[] {
  assertConditionUpdate(update);
  const list = conditions ?? [];
  const previous = findCondition(list, update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    observedGeneration: update.observedGeneration,
    lastTransitionTime:
      previous !== undefined && previous.status === update.status ? previous.lastTransitionTime : conditionTime(now),
    reason: update.reason,
    message: update.message,
  };
  if (previous === undefined) return [...list, next];
  return list.map((c) => (c.type === update.type ? next : c));
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** Whether two condition lists say the same thing, so a reconciler can skip a status write. */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  return (
    left.length === right.length &&
    left.every((c, i) => {
      const d = right[i];
      return (
        d !== undefined &&
        c.type === d.type &&
        c.status === d.status &&
        c.observedGeneration === d.observedGeneration &&
        c.lastTransitionTime === d.lastTransitionTime &&
        c.reason === d.reason &&
        c.message === d.message
      );
    })
  );
}
