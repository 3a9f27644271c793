import { ArgumentError } from '../../index.js';

/**
 * Why a field was refused; the same distinctions the API server makes (field.ErrorType), plus
 * `immutable` for transition rules, which the API server reports as invalid values.
 */
export type FieldErrorReason = 'required' | 'type' | 'invalid' | 'unsupported' | 'too-long' | 'forbidden' | 'immutable';

/** One refused field. `path` is in the API server's notation, e.g. `spec.servicePolicy.rules[2].ports`. */
export interface FieldError {
  readonly path: string;
  readonly reason: FieldErrorReason;
  readonly message: string;
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('; ');
}

/** A custom resource that failed validation; `errors` lists every refused field. */
export class ResourceValidationError extends ArgumentError {
  readonly kind: string;
  readonly objectName: string | undefined;
  readonly errors: readonly FieldError[];

  constructor(kind: string, objectName: string | undefined, errors: readonly FieldError[]) {
    super(
      `${kind} ${objectName === undefined ? '(unnamed)' : `"${objectName}"`} is invalid: ${formatFieldErrors(errors)}`,
    );
    this.kind = kind;
    this.objectName = objectName;
    this.errors = errors;
  }
}
