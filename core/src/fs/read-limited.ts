import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { DecodeError } from '../errors.js';

/**
 * Reads a whole file that must not exceed `maxBytes`. Every config file has a small fixed
 * size, so anything bigger is refused instead of being read into memory or truncated.
 * O_NONBLOCK plus the regular-file check keep a FIFO or device planted in the config dir
 * from hanging the daemon or the CLI.
 */
export function readFileLimited(path: string, maxBytes: number): Uint8Array {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new DecodeError(`${path}: not a regular file`);
    const buf = Buffer.alloc(maxBytes + 1);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buf, total, buf.length - total, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new DecodeError(`${path}: larger than ${maxBytes} bytes`);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, total);
  } finally {
    closeSync(fd);
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
