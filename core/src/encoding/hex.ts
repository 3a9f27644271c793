import { DecodeError } from '../errors.js';

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

export function fromHex(text: string, expectedBytes: number, what: string): Uint8Array {
  if (text.length !== expectedBytes * 2 || !/^[0-9a-fA-F]*$/.test(text)) {
    throw new DecodeError(`${what}: expected ${expectedBytes * 2} hex characters`);
  }
  return new Uint8Array(Buffer.from(text, 'hex'));
}
