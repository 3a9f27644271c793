import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateCertificate, type CertificateCheck } from '../cert/certificate-validation.js';
import { decodeNodeCertificate, CERT_SLOT_BYTES, type NodeCertificate } from '../cert/node-certificate.js';
import { ConfigPaths } from '../config/config-dir.js';
import type { PublicKey } from '../crypto/ed25519.js';
import { errorMessage, NotFoundError } from '../errors.js';
import { isNotFound, readFileLimited } from '../fs/read-limited.js';
import { decodePublicKeyText, TRUST_FILE_MAX_BYTES } from '../identity/identity-key.js';
import { identityLocation, loadPublicKey } from '../identity/identity-files.js';
import { decodeRevocationFile, decodeVouchFile, ORG_REVOKE_BYTES, VOUCH_FILE_BYTES } from '../org/org-messages.js';
import {
  MAX_AUTHORIZED_KEYS,
  MAX_REVOCATIONS,
  MAX_TRUSTED_ORGS,
  MAX_VOUCHES,
  TrustSet,
  type AuthorizedKey,
  type TrustedOrg,
} from './trust-set.js';

export interface NodeCertificateStatus {
  readonly certificate: NodeCertificate;
  readonly check: CertificateCheck;
}

export interface LoadedTrust {
  readonly trust: TrustSet;
  /** Our identity public key, when identity.pub loads. */
  readonly identity: PublicKey | undefined;
  /** node.cert, decoded and validated against our identity and trust, when present. */
  readonly nodeCertificate: NodeCertificateStatus | undefined;
  /**
   * Every file that was skipped and why. The reference skips bad files silently (spec §1.4);
   * we still skip them, but say so, so `config show` and the daemon log can report them.
   */
  readonly problems: readonly string[];
}

export interface LoadTrustOptions {
  /** Unix seconds, for validating node.cert. */
  readonly now: bigint;
  readonly open?: boolean;
}

/** Sorted entries with the suffix; a missing directory is simply empty. */
export function listConfigFiles(dir: string, suffix: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(suffix) && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

function loadNamedKeys(dir: string, suffix: string, limit: number, problems: string[]): AuthorizedKey[] {
  const keys: AuthorizedKey[] = [];
  for (const file of listConfigFiles(dir, suffix)) {
    const path = join(dir, file);
    if (keys.length >= limit) {
      problems.push(`${path}: skipped, more than ${limit} files`);
      continue;
    }
    try {
      const publicKey = decodePublicKeyText(
        Buffer.from(readFileLimited(path, TRUST_FILE_MAX_BYTES)).toString('latin1'),
        path,
      );
      keys.push({ name: file.slice(0, -suffix.length), publicKey });
    } catch (err) {
      problems.push(`${path}: ${errorMessage(err)}`);
    }
  }
  return keys;
}

function loadBinaryFiles<T>(
  dir: string,
  suffix: string,
  size: number,
  limit: number,
  decode: (b: Uint8Array) => T,
  problems: string[],
): Array<{ path: string; value: T }> {
  const out: Array<{ path: string; value: T }> = [];
  for (const file of listConfigFiles(dir, suffix)) {
    const path = join(dir, file);
    if (out.length >= limit) {
      problems.push(`${path}: skipped, more than ${limit} files`);
      continue;
    }
    try {
      out.push({ path, value: decode(readFileLimited(path, size)) });
    } catch (err) {
      problems.push(`${path}: ${errorMessage(err)}`);
    }
  }
  return out;
}

function loadNodeCertificate(
  configDir: string,
  trust: TrustSet,
  identity: PublicKey | undefined,
  now: bigint,
  problems: string[],
): NodeCertificateStatus | undefined {
  const path = join(configDir, ConfigPaths.nodeCert);
  let bytes: Uint8Array;
  try {
    bytes = readFileLimited(path, CERT_SLOT_BYTES);
  } catch (err) {
    if (!isNotFound(err)) problems.push(`${path}: ${errorMessage(err)}`);
    return undefined;
  }
  try {
    const certificate = decodeNodeCertificate(bytes);
    // The reference advertises node.cert unchecked (spec §1.7); we check it like a peer would.
    const check = validateCertificate(certificate, {
      now,
      ...(identity === undefined ? {} : { expectedNode: identity }),
      isTrustedOrg: trust.isTrustedOrg,
      isRevoked: trust.isRevoked,
    });
    if (!check.ok) problems.push(`${path}: ${check.message}`);
    return { certificate, check };
  } catch (err) {
    problems.push(`${path}: ${errorMessage(err)}`);
    return undefined;
  }
}

/**
 * Builds the trust set from the config dir: authorized_keys/*.pub, trusted_orgs/*.org,
 * revoked/*.revoke, vouched/*.vouch (which the reference writes but never reads), node.cert.
 * Revocations and vouches are signature-checked before they count.
 */
export function loadTrust(configDir: string, options: LoadTrustOptions): LoadedTrust {
  const problems: string[] = [];
  let identity: PublicKey | undefined;
  try {
    identity = loadPublicKey(identityLocation(configDir));
  } catch (err) {
    if (!(err instanceof NotFoundError)) problems.push(errorMessage(err));
  }
  const authorizedKeys = loadNamedKeys(
    join(configDir, ConfigPaths.authorizedKeys),
    '.pub',
    MAX_AUTHORIZED_KEYS,
    problems,
  );
  const trustedOrgs: TrustedOrg[] = loadNamedKeys(
    join(configDir, ConfigPaths.trustedOrgs),
    '.org',
    MAX_TRUSTED_ORGS,
    problems,
  );
  const trust = new TrustSet({
    ...(identity === undefined ? {} : { self: identity }),
    authorizedKeys,
    trustedOrgs,
    open: options.open ?? false,
  });

  for (const { path, value } of loadBinaryFiles(
    join(configDir, ConfigPaths.revoked),
    '.revoke',
    ORG_REVOKE_BYTES,
    MAX_REVOCATIONS,
    decodeRevocationFile,
    problems,
  )) {
    const outcome = trust.applyRevocation(value);
    if (outcome !== 'applied' && outcome !== 'duplicate') problems.push(`${path}: revocation ${outcome}`);
  }
  for (const { path, value } of loadBinaryFiles(
    join(configDir, ConfigPaths.vouched),
    '.vouch',
    VOUCH_FILE_BYTES,
    MAX_VOUCHES,
    decodeVouchFile,
    problems,
  )) {
    const outcome = trust.applyVouch(value);
    if (outcome !== 'applied' && outcome !== 'duplicate') problems.push(`${path}: vouch ${outcome}`);
  }
  const nodeCertificate = loadNodeCertificate(configDir, trust, identity, options.now, problems);
  return { trust, identity, nodeCertificate, problems };
}
