import type { TestContext } from 'node:test';

/** CI=true (any non-empty value but "false"/"0") makes missing capabilities fatal. */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['CI'];
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/**
 * Skips the test with the reason on a developer machine that lacks a capability (root,
 * network namespaces, a binary), but fails it under CI so nothing is silently skipped there.
 * Returns true when the test may proceed.
 */
export function requireCapability(
  t: Pick<TestContext, 'skip'>,
  available: boolean,
  reason: string,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (available) return true;
  if (inCi(env)) throw new Error(`required capability missing in CI: ${reason}`);
  t.skip(reason);
  return false;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
