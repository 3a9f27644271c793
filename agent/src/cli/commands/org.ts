import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ArgumentError,
  assertValidWireGuardPublicKey,
  bytesEqual,
  checkCertificateSignatures,
  ConfigPaths,
  createKeyPair,
  decodeBase64Exact,
  decodeRevocationFile,
  encodeBase64,
  encodeNodeCertificate,
  encodeOrgMessage,
  encodeVouchFile,
  issueCertificate,
  loadKeyPair,
  orgDomain,
  orgKeyLocation,
  orgMessageFileStem,
  parseDuration,
  readFileLimited,
  revocationReasonName,
  RevocationReason,
  signOrgRevoke,
  signOrgVouch,
  writeFileAtomic,
  ORG_REVOKE_BYTES,
  MeshguardError,
} from '@meshguard/core';
import { parseCommandArgs } from '../args.js';
import type { CommandHandler } from '../context.js';
import { describeCertificate } from '../output.js';
import { readKeyArgument } from './key-argument.js';

export const orgKeygenCommand: CommandHandler = (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    { force: { type: 'boolean', default: false } },
    'meshguard org-keygen [--force]',
    {
      min: 0,
      max: 0,
    },
  );
  const loc = orgKeyLocation(ctx.configDir);
  const pair = createKeyPair(loc, { force: values.force });
  ctx.out(`org key:     ${encodeBase64(pair.publicKey)}`);
  ctx.out(`mesh domain: ${orgDomain(pair.publicKey)}.mesh`);
  ctx.out(`written:     ${loc.secretPath} (0600)`);
  ctx.out(`nodes trust this org with: meshguard trust ${encodeBase64(pair.publicKey)} --org`);
};

const SIGN_USAGE =
  'meshguard org-sign <node-key | node.pub> --name NAME [--wg-pubkey KEY] [--expires DURATION|never] [--out FILE]';
/** A year: certificates should expire unless someone decides otherwise (`--expires never`). */
const DEFAULT_LIFETIME = '365d';

export const orgSignCommand: CommandHandler = (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      name: { type: 'string' },
      'wg-pubkey': { type: 'string' },
      expires: { type: 'string', default: DEFAULT_LIFETIME },
      out: { type: 'string' },
    },
    SIGN_USAGE,
    { min: 1, max: 1 },
  );
  if (values.name === undefined) throw new ArgumentError('--name is required');
  const { publicKey: nodePublicKey } = readKeyArgument(positionals[0]!, 'node key');
  const wgText = values['wg-pubkey'];
  const wgPublicKey =
    wgText === undefined
      ? undefined
      : assertValidWireGuardPublicKey(decodeBase64Exact(wgText, 32, '--wg-pubkey'), '--wg-pubkey');
  const lifetime = parseDuration(values.expires);
  const org = loadKeyPair(orgKeyLocation(ctx.configDir));
  const issuedAt = ctx.now();
  const cert = issueCertificate(org, {
    nodePublicKey,
    nodeName: values.name,
    issuedAt,
    expiresAt: lifetime === null ? 0n : issuedAt + BigInt(lifetime),
    ...(wgPublicKey === undefined ? {} : { wgPublicKey }),
  });
  if (!checkCertificateSignatures(cert).ok)
    throw new MeshguardError('invalid-certificate', 'self-check of the new certificate failed');
  const out = values.out ?? join(ctx.configDir, `${values.name}.cert`);
  writeFileAtomic(out, encodeNodeCertificate(cert), { mode: 0o644 });
  for (const line of describeCertificate(cert)) ctx.out(line);
  ctx.out(`written:     ${out} (314 bytes; install on the node as ${ConfigPaths.nodeCert})`);
};

export const orgVouchCommand: CommandHandler = (args, ctx) => {
  const { positionals } = parseCommandArgs(args, {}, 'meshguard org-vouch <node-key | node.pub>', { min: 1, max: 1 });
  const { publicKey } = readKeyArgument(positionals[0]!, 'vouched key');
  const org = loadKeyPair(orgKeyLocation(ctx.configDir));
  const vouch = signOrgVouch(org, publicKey, ctx.now());
  const path = join(ctx.configDir, ConfigPaths.vouched, `${orgMessageFileStem(publicKey)}.vouch`);
  writeFileAtomic(path, encodeVouchFile(vouch), { mode: 0o644 });
  ctx.out(`vouched ${encodeBase64(publicKey)} for org ${orgDomain(org.publicKey)}`);
  ctx.out(`written: ${path}`);
  ctx.out(`message: ${encodeBase64(encodeOrgMessage(vouch))}`);
};

const REVOKE_USAGE = 'meshguard org-revoke <node-key | node.pub> [--reason unspecified|key-compromised|admin-removed]';

function parseReason(text: string): number {
  const byName: Readonly<Record<string, number>> = {
    unspecified: RevocationReason.unspecified,
    'key-compromised': RevocationReason.keyCompromised,
    'admin-removed': RevocationReason.adminRemoved,
  };
  const reason = byName[text] ?? (/^[0-2]$/.test(text) ? Number(text) : undefined);
  if (reason === undefined)
    throw new ArgumentError(`invalid --reason "${text}" (unspecified, key-compromised, admin-removed)`);
  return reason;
}

/**
 * The revocation file is named by the revoked key (spec §1.8). When another org already
 * revoked the same key we keep both under distinct names: the loader reads every *.revoke.
 */
function revocationPath(dir: string, node: Uint8Array, org: Uint8Array): { path: string; alreadyRevoked: boolean } {
  const stem = orgMessageFileStem(node);
  for (const candidate of [`${stem}.revoke`, `${stem}-${orgDomain(org)}.revoke`]) {
    const path = join(dir, candidate);
    if (!existsSync(path)) return { path, alreadyRevoked: false };
    try {
      const existing = decodeRevocationFile(readFileLimited(path, ORG_REVOKE_BYTES));
      if (bytesEqual(existing.orgPublicKey, org) && bytesEqual(existing.nodePublicKey, node)) {
        return { path, alreadyRevoked: true };
      }
    } catch (err) {
      if (!(err instanceof MeshguardError)) throw err;
      // An unreadable file under our name is replaced by a good one.
      return { path, alreadyRevoked: false };
    }
  }
  throw new ArgumentError(`cannot choose a file name for this revocation in ${dir}`);
}

export const orgRevokeCommand: CommandHandler = (args, ctx) => {
  const { values, positionals } = parseCommandArgs(
    args,
    { reason: { type: 'string', default: 'admin-removed' } },
    REVOKE_USAGE,
    {
      min: 1,
      max: 1,
    },
  );
  const reason = parseReason(values.reason);
  const { publicKey } = readKeyArgument(positionals[0]!, 'revoked key');
  const org = loadKeyPair(orgKeyLocation(ctx.configDir));
  const { path, alreadyRevoked } = revocationPath(join(ctx.configDir, ConfigPaths.revoked), publicKey, org.publicKey);
  if (alreadyRevoked) {
    ctx.out(`already revoked by this org: ${path}; nothing changed`);
    return;
  }
  const revoke = signOrgRevoke(org, publicKey, reason, ctx.now());
  writeFileAtomic(path, encodeOrgMessage(revoke), { mode: 0o644 });
  ctx.out(
    `revoked ${encodeBase64(publicKey)} for org ${orgDomain(org.publicKey)} (reason ${revocationReasonName(reason)})`,
  );
  ctx.out(`written: ${path}`);
  ctx.out(`message: ${encodeBase64(encodeOrgMessage(revoke))}`);
};
