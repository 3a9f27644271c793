import { readFileSync } from 'node:fs';

/** The version in agent/package.json, read at run time so a release bump needs one edit. */
export function meshguardVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string')
    return pkg.version;
  return 'unknown';
}

/** The reference release whose wire and on-disk formats we interoperate with. */
export const COMPATIBLE_WITH = 'meshguard 0.10.0 wire protocol';
