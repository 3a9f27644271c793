import { DecodeError } from '../errors.js';

const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict RFC 4648 §4 decoding with padding. Node's `Buffer.from(s, 'base64')` silently
 * skips garbage and accepts the URL alphabet, which would let two different strings name
 * the same key on disk; the spec's files are exact, so we are too.
 */
export function decodeBase64Exact(text: string, expectedBytes: number, what: string): Uint8Array {
  const expectedChars = 4 * Math.ceil(expectedBytes / 3);
  if (text.length !== expectedChars) {
    throw new DecodeError(
      `${what}: expected ${expectedChars} base64 characters (${expectedBytes} bytes), got ${text.length}`,
    );
  }
  if (!STD_BASE64.test(text)) {
    throw new DecodeError(`${what}: not standard padded base64`);
  }
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding catches non-zero trailing bits and misplaced padding, which the regex allows.
  if (bytes.length !== expectedBytes || bytes.toString('base64') !== text) {
    throw new DecodeError(`${what}: not canonical base64 for ${expectedBytes} bytes`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}
