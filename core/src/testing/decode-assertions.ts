import assert from 'node:assert/strict';
import { DecodeError } from '../errors.js';

/** Asserts that `fn` throws a DecodeError, whose message matches `message` when given. */
export function assertDecodeError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected DecodeError, got ${String(err)}`);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

/** Property-test body: a decoder either returns or throws DecodeError — nothing else escapes. */
export function decodesOrRejects(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch (err) {
    if (err instanceof DecodeError) return true;
    throw err;
  }
}
