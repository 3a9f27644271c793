/**
 * Typed errors. Every decoder and validator in core throws only `MeshguardError`
 * subclasses, so callers (CLI, daemon, operator) can tell bad input from bugs.
 */
export type ErrorCode =
  | 'decode'
  | 'invalid-key'
  | 'invalid-signature'
  | 'invalid-argument'
  | 'invalid-certificate'
  | 'invalid-policy'
  | 'conflict'
  | 'not-found'
  | 'io';

export class MeshguardError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A byte or text string that does not match its format. */
export class DecodeError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('decode', message, options);
  }
}

/** Well-formed bytes that are not an acceptable Ed25519/X25519 key. */
export class InvalidKeyError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-key', message, options);
  }
}

/** A signature that does not verify, or a signed object that must not be accepted. */
export class SignatureError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-signature', message, options);
  }
}

/** A caller-supplied value (CLI argument, CR field) out of range or of the wrong form. */
export class ArgumentError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-argument', message, options);
  }
}

/** A request that contradicts existing state, e.g. a trust name already bound to another key. */
export class ConflictError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('conflict', message, options);
  }
}

export class NotFoundError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('not-found', message, options);
  }
}

export class PolicyError extends MeshguardError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-policy', message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
