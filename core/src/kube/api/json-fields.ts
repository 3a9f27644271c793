import type { FieldError, FieldErrorReason } from './field-error.js';

/**
 * Reads fields of an untrusted JSON value (an object from the API server, a manifest, a fuzzer)
 * and records a FieldError for each one that is missing or of the wrong type, so validation can
 * report everything at once and never throws on odd input.
 *
 * A `null` counts as absent: the API server prunes nulls of non-nullable fields before
 * validation, so an object it stored never has them. Unknown fields are ignored for the same
 * reason (they are pruned), which also keeps an older operator working with a newer CRD.
 */
export class JsonFields {
  readonly path: string;
  private readonly value: Readonly<Record<string, unknown>>;
  private readonly errors: FieldError[];

  private constructor(path: string, value: Readonly<Record<string, unknown>>, errors: FieldError[]) {
    this.path = path;
    this.value = value;
    this.errors = errors;
  }

  /** The root object, or undefined (with an error at `path`) when `value` is not an object. */
  static root(value: unknown, errors: FieldError[], path = '<root>'): JsonFields | undefined {
    if (!isJsonObject(value)) {
      errors.push({ path, reason: 'type', message: 'must be an object' });
      return undefined;
    }
    return new JsonFields(path, value, errors);
  }

  /** `spec.x` for a root named `spec`; `x` directly under the unnamed root. */
  pathOf(key: string): string {
    return this.path === '<root>' ? key : `${this.path}.${key}`;
  }

  error(key: string | null, reason: FieldErrorReason, message: string): void {
    this.errors.push({ path: key === null ? this.path : this.pathOf(key), reason, message });
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  /** The value as is (null as undefined); for fields that admit several types. */
  raw(key: string): unknown {
    if (!Object.hasOwn(this.value, key)) return undefined;
    const v = this.value[key];
    return v === null ? undefined : v;
  }

  private typed<T>(key: string, required: boolean, guard: (v: unknown) => v is T, what: string): T | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (required) this.error(key, 'required', 'Required value');
      return undefined;
    }
    if (!guard(v)) {
      this.error(key, 'type', `must be ${what}`);
      return undefined;
    }
    return v;
  }

  /** A string within `maxLength` characters; too long is reported as the API server does. */
  string(key: string, options: { readonly required?: boolean; readonly maxLength?: number } = {}): string | undefined {
    const v = this.typed(key, options.required ?? false, (x) => typeof x === 'string', 'a string');
    if (v !== undefined && options.maxLength !== undefined && v.length > options.maxLength) {
      this.error(key, 'too-long', `Too long: may not be more than ${options.maxLength} bytes`);
      return undefined;
    }
    return v;
  }

  boolean(key: string): boolean | undefined {
    return this.typed(key, false, (x) => typeof x === 'boolean', 'a boolean');
  }

  /** One of `values`; anything else is reported with the supported values, in the API server's words. */
  enumeration<T extends string>(key: string, values: readonly T[], required = false): T | undefined {
    const v = this.string(key, { required });
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) {
      const supported = values.map((x) => `"${x}"`).join(', ');
      this.error(key, 'unsupported', `Unsupported value: "${v}": supported values: ${supported}`);
      return undefined;
    }
    return v as T;
  }

  object(key: string, required = false): JsonFields | undefined {
    const v = this.typed(key, required, isJsonObject, 'an object');
    return v === undefined ? undefined : new JsonFields(this.pathOf(key), v, this.errors);
  }

  /** The elements as raw values with their paths, at most `maxItems` of them. */
  array(key: string, maxItems: number): { readonly path: string; readonly value: unknown }[] | undefined {
    const v = this.typed(key, false, Array.isArray, 'an array');
    if (v === undefined) return undefined;
    if (v.length > maxItems) {
      this.error(key, 'too-long', `Too many: ${v.length}: must have at most ${maxItems} items`);
      return undefined;
    }
    return v.map((value: unknown, i) => ({ path: `${this.pathOf(key)}[${i}]`, value }));
  }

  /** A nested object found by array(): same error list, its own path. */
  element(path: string, value: unknown): JsonFields | undefined {
    if (!isJsonObject(value)) {
      this.errors.push({ path, reason: 'type', message: 'must be an object' });
      return undefined;
    }
    return new JsonFields(path, value, this.errors);
  }
}

export function isJsonObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
