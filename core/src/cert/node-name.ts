import { ArgumentError } from '../errors.js';
import { NODE_NAME_BYTES } from './node-certificate.js';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Names we issue must be usable as the first label of `<name>.<org>.mesh` and as a
 * Kubernetes object name, so we allow a lowercase DNS label of at most 32 bytes (the field
 * size). Decoding stays permissive: certificates from other issuers are read as they are.
 */
export function assertValidNodeName(name: string): string {
  if (name.length === 0 || name.length > NODE_NAME_BYTES) {
    throw new ArgumentError(`node name must be 1-${NODE_NAME_BYTES} characters, got ${name.length}`);
  }
  if (!DNS_LABEL.test(name)) {
    throw new ArgumentError(
      `node name "${name}" is not a DNS label (lowercase a-z, 0-9 and '-', not starting or ending with '-')`,
    );
  }
  return name;
}

export function encodeNodeName(name: string): Uint8Array {
  const field = new Uint8Array(NODE_NAME_BYTES);
  field.set(Buffer.from(assertValidNodeName(name), 'ascii'));
  return field;
}
