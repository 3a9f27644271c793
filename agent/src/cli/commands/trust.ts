import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ArgumentError,
  bytesEqual,
  ConfigPaths,
  ConflictError,
  decodePublicKeyText,
  encodeBase64,
  encodePublicKeyFile,
  errorMessage,
  isNotFound,
  listConfigFiles,
  meshAddresses,
  NotFoundError,
  orgDomain,
  readFileLimited,
  toHex,
  TRUST_FILE_MAX_BYTES,
  writeFileAtomic,
} from '@meshguard/core';
import { parseCommandArgs } from '../args.js';
import type { CommandHandler } from '../context.js';
import { readKeyArgument } from './key-argument.js';

const TRUST_USAGE = 'meshguard trust <base64-key | key-file> [--name NAME] [--org]';
const REVOKE_USAGE = 'meshguard revoke <name> [--org]';

/** Names become file names: no path separators, no leading dot, bounded. */
const TRUST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertTrustName(name: string): string {
  if (!TRUST_NAME.test(name)) {
    throw new ArgumentError(`invalid name "${name}": use 1-64 of A-Z a-z 0-9 . _ - (not starting with . _ -)`);
  }
  return name;
}

interface TrustKind {
  readonly dir: string;
  readonly suffix: string;
  readonly label: string;
}

function trustKind(configDir: string, org: boolean): TrustKind {
  return org
    ? { dir: join(configDir, ConfigPaths.trustedOrgs), suffix: '.org', label: 'org' }
    : { dir: join(configDir, ConfigPaths.authorizedKeys), suffix: '.pub', label: 'peer' };
}

/** The key already stored under `name` (undefined when none); an unreadable file counts as taken. */
function existingKey(kind: TrustKind, file: string): Uint8Array | undefined {
  const path = join(kind.dir, file);
  try {
    return decodePublicKeyText(Buffer.from(readFileLimited(path, TRUST_FILE_MAX_BYTES)).toString('latin1'), path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new ConflictError(`${path} exists but is unreadable (${errorMessage(err)}); remove it first`);
  }
}

export const trustCommand: CommandHandler = (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { name: { type: 'string' }, org: { type: 'boolean', default: false } },
    TRUST_USAGE,
    { min: 1, max: 1 },
  );
  const kind = trustKind(ctx.configDir, values.org);
  const { publicKey, fileStem } = readKeyArgument(positionals[0]!, `${kind.label} key`);
  const defaultName = values.org ? orgDomain(publicKey) : (fileStem ?? `peer-${toHex(publicKey.subarray(0, 4))}`);
  const name = assertTrustName(values.name ?? defaultName);
  const file = `${name}${kind.suffix}`;

  const sameName = existingKey(kind, file);
  if (sameName !== undefined) {
    if (bytesEqual(sameName, publicKey)) {
      ctx.out(`already trusted as ${kind.label} "${name}"; nothing changed`);
      return;
    }
    throw new ConflictError(`name "${name}" is already used for another ${kind.label} key (${encodeBase64(sameName)})`);
  }
  for (const other of listConfigFiles(kind.dir, kind.suffix)) {
    const key = existingKeyQuiet(kind, other);
    if (key !== undefined && bytesEqual(key, publicKey)) {
      throw new ConflictError(`this key is already trusted as ${kind.label} "${other.slice(0, -kind.suffix.length)}"`);
    }
  }
  const path = join(kind.dir, file);
  writeFileAtomic(path, encodePublicKeyFile(publicKey), { mode: 0o644, overwrite: false });
  if (values.org) {
    ctx.out(`trusted org "${name}" (domain ${orgDomain(publicKey)}.mesh): ${path}`);
  } else {
    const a = meshAddresses(publicKey);
    ctx.out(`trusted peer "${name}" (${a.ipv4}, ${a.ipv6}): ${path}`);
  }
};

function existingKeyQuiet(kind: TrustKind, file: string): Uint8Array | undefined {
  try {
    return existingKey(kind, file);
  } catch {
    // A broken file under another name cannot hold this key; the loader reports it elsewhere.
    return undefined;
  }
}

export const revokeCommand: CommandHandler = (args, ctx) => {
  const { values, positionals } = parseCommandArgs(args, { org: { type: 'boolean', default: false } }, REVOKE_USAGE, {
    min: 1,
    max: 1,
  });
  const kind = trustKind(ctx.configDir, values.org);
  const name = assertTrustName(positionals[0]!);
  const path = join(kind.dir, `${name}${kind.suffix}`);
  try {
    unlinkSync(path);
  } catch (err) {
    if (isNotFound(err)) {
      const hint = values.org ? '' : ' (for an org, add --org)';
      throw new NotFoundError(`no trusted ${kind.label} named "${name}"${hint}`);
    }
    throw err;
  }
  ctx.out(`removed ${kind.label} "${name}" (${path})`);
};
