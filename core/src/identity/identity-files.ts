import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual } from '../encoding/bytes.js';
import { ConflictError, InvalidKeyError, NotFoundError } from '../errors.js';
import { generateKeyPair, type Ed25519KeyPair, type PublicKey } from '../crypto/ed25519.js';
import { ConfigPaths } from '../config/config-dir.js';
import { writeFilesAtomic } from '../fs/atomic-write.js';
import { isNotFound, readFileLimited } from '../fs/read-limited.js';
import {
  decodePublicKeyText,
  decodeSecretKeyFile,
  encodePublicKeyFile,
  encodeSecretKeyFile,
  PUBLIC_FILE_MAX_BYTES,
  SECRET_FILE_MAX_BYTES,
} from './identity-key.js';

/** Where a key pair lives: identity.key/.pub or org/org.key/.pub (same encodings, spec §1.6). */
export interface KeyPairLocation {
  readonly secretPath: string;
  readonly publicPath: string;
  readonly what: string;
}

export function identityLocation(configDir: string): KeyPairLocation {
  return {
    secretPath: join(configDir, ConfigPaths.identityKey),
    publicPath: join(configDir, ConfigPaths.identityPub),
    what: 'identity',
  };
}

export function orgKeyLocation(configDir: string): KeyPairLocation {
  return {
    secretPath: join(configDir, ConfigPaths.orgKey),
    publicPath: join(configDir, ConfigPaths.orgPub),
    what: 'org key',
  };
}

function readText(path: string, max: number, missingHint: string): string {
  try {
    return Buffer.from(readFileLimited(path, max)).toString('latin1');
  } catch (err) {
    if (isNotFound(err)) throw new NotFoundError(`${path} not found (${missingHint})`);
    throw err;
  }
}

const hint = (loc: KeyPairLocation): string =>
  loc.what === 'identity' ? 'run `meshguard keygen`' : 'run `meshguard org-keygen`';

export function loadPublicKey(loc: KeyPairLocation): PublicKey {
  return decodePublicKeyText(readText(loc.publicPath, PUBLIC_FILE_MAX_BYTES, hint(loc)), loc.publicPath);
}

/**
 * Loads the secret file and insists the .pub file names the same key: the reference loads
 * them independently (spec §1.3), which can advertise one identity while signing with another.
 */
export function loadKeyPair(loc: KeyPairLocation): Ed25519KeyPair {
  const pair = decodeSecretKeyFile(readText(loc.secretPath, SECRET_FILE_MAX_BYTES, hint(loc)), loc.secretPath);
  const pub = loadPublicKey(loc);
  if (!bytesEqual(pub, pair.publicKey)) {
    throw new InvalidKeyError(`${loc.publicPath} does not match ${loc.secretPath}`);
  }
  return pair;
}

/**
 * Creates a fresh key pair: secret 0600, public 0644. Without `force`, an existing file is
 * never replaced (checked atomically when the files are linked into place).
 */
export function createKeyPair(loc: KeyPairLocation, options: { readonly force: boolean }): Ed25519KeyPair {
  if (!options.force) {
    for (const path of [loc.secretPath, loc.publicPath]) {
      if (existsSync(path)) throw new ConflictError(`${path} already exists (use --force to replace the ${loc.what})`);
    }
  }
  const pair = generateKeyPair();
  writeFilesAtomic([
    { path: loc.secretPath, data: encodeSecretKeyFile(pair), options: { mode: 0o600, overwrite: options.force } },
    {
      path: loc.publicPath,
      data: encodePublicKeyFile(pair.publicKey),
      options: { mode: 0o644, overwrite: options.force },
    },
  ]);
  return pair;
}
