import { existsSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import {
  ArgumentError,
  decodePublicKeyText,
  readFileLimited,
  TRUST_FILE_MAX_BYTES,
  type PublicKey,
} from '@meshguard/core';

export interface KeyArgument {
  readonly publicKey: PublicKey;
  /** The file's stem when the key came from a file (e.g. `node-1` for node-1.pub). */
  readonly fileStem?: string;
}

/**
 * A key on the command line is either the 44-character base64 text itself or a path to a
 * file holding it (identity.pub, *.pub, *.org). A string that looks like base64 is never
 * treated as a path, so a stray file cannot change what a typed key means.
 */
export function readKeyArgument(arg: string, what: string): KeyArgument {
  if (/^[A-Za-z0-9+/]{43}=$/.test(arg)) return { publicKey: decodePublicKeyText(arg, what) };
  if (!existsSync(arg)) {
    throw new ArgumentError(`${what}: "${arg}" is neither a base64 public key nor an existing file`);
  }
  if (!statSync(arg).isFile()) throw new ArgumentError(`${what}: ${arg} is not a regular file`);
  const text = Buffer.from(readFileLimited(arg, TRUST_FILE_MAX_BYTES)).toString('latin1');
  return { publicKey: decodePublicKeyText(text, `${what} (${arg})`), fileStem: basename(arg, extname(arg)) };
}
