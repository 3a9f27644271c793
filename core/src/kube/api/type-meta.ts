import { MESHGUARD_API_VERSION } from './group.js';
import type { JsonFields } from './json-fields.js';

/**
 * apiVersion and kind must name this kind in this version: a manifest for another version would
 * otherwise be read with this version's rules and silently mean something else.
 */
export function checkTypeMeta(root: JsonFields, kind: string): void {
  const apiVersion = root.string('apiVersion', { required: true });
  if (apiVersion !== undefined && apiVersion !== MESHGUARD_API_VERSION) {
    root.error(
      'apiVersion',
      'unsupported',
      `Unsupported value: "${apiVersion}": supported values: "${MESHGUARD_API_VERSION}"`,
    );
  }
  const actual = root.string('kind', { required: true });
  if (actual !== undefined && actual !== kind) {
    root.error('kind', 'unsupported', `Unsupported value: "${actual}": supported values: "${kind}"`);
  }
}

/** metadata.name as a string (any string: each kind adds its own rules), for error messages too. */
export function objectName(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const metadata: unknown = (value as Record<string, unknown>)['metadata'];
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const name: unknown = (metadata as Record<string, unknown>)['name'];
  return typeof name === 'string' ? name : undefined;
}
