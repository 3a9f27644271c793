import { ArgumentError } from '@meshguard/core';

/** IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15;

/**
 * Refuses what the kernel's dev_valid_name() refuses, before any system call, so a bad name is
 * an argument error and not an errno from deep inside TUNSETIFF.
 */
export function validateInterfaceName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > MAX_INTERFACE_NAME_BYTES) {
    throw new ArgumentError(
      `interface name ${JSON.stringify(name)} must be 1-${MAX_INTERFACE_NAME_BYTES} bytes, is ${bytes}`,
    );
  }
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (name === '.' || name === '..' || /[/:\s\u0000-\u001f\u007f]/.test(name)) {
    throw new ArgumentError(`interface name ${JSON.stringify(name)} contains '/', ':', whitespace or is '.'/'..'`);
  }
}
