/**
 * Typed errors of the controller plumbing, so callers branch on a class or a status code rather
 * than on message text. Invalid options throw core's ArgumentError like every other constructor
 * in the project.
 */
export type ControllerErrorCode = 'kube-api' | 'kube-transport' | 'decode' | 'timeout';

export class ControllerError extends Error {
  readonly code: ControllerErrorCode;
  constructor(code: ControllerErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The fields of a metav1.Status that the API server puts in error bodies and watch ERROR events. */
export interface KubeStatus {
  readonly code?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** The API server answered with a non-2xx status (or a watch ERROR event carrying one). */
export class KubeApiError extends ControllerError {
  readonly status: number;
  /** metav1.Status reason: Conflict, AlreadyExists, NotFound, Expired, Gone, … */
  readonly reason: string | undefined;

  constructor(status: number, reason: string | undefined, message: string, options?: ErrorOptions) {
    super('kube-api', message, options);
    this.status = status;
    this.reason = reason;
  }

  static fromStatus(status: KubeStatus, fallbackStatus: number, what: string): KubeApiError {
    const code = status.code ?? fallbackStatus;
    const text = status.message ?? status.reason ?? `HTTP ${String(code)}`;
    return new KubeApiError(code, status.reason, `${what}: ${String(code)} ${text}`);
  }
}

/** The request never got an answer: connection refused or reset, TLS failure, timeout. */
export class KubeTransportError extends ControllerError {
  constructor(message: string, options?: ErrorOptions) {
    super('kube-transport', message, options);
  }
}

/** A body or watch event that is not the JSON object the API promises. */
export class KubeDecodeError extends ControllerError {
  constructor(message: string, options?: ErrorOptions) {
    super('decode', message, options);
  }
}

/** A wait bounded by the caller's deadline ran out. */
export class ControllerTimeoutError extends ControllerError {
  constructor(message: string, options?: ErrorOptions) {
    super('timeout', message, options);
  }
}

/** 409: optimistic-concurrency conflict (stale resourceVersion) or AlreadyExists on create. */
export function isConflict(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && err.status === 409;
}

export function isNotFound(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && err.status === 404;
}

/** 410: the resourceVersion asked for has been compacted away; only a fresh list can continue. */
export function isGone(err: unknown): err is KubeApiError {
  return err instanceof KubeApiError && err.status === 410;
}
