import { join } from 'node:path';
import {
  ArgumentError,
  CERT_SLOT_BYTES,
  CERT_V1_BYTES,
  ConfigPaths,
  decodeBase64Exact,
  decodeNodeCertificate,
  encodeNodeCertificate,
  identityLocation,
  loadPublicKey,
  loadTrust,
  MeshguardError,
  readFileLimited,
  validateCertificate,
  writeFileAtomic,
  type NodeCertificate,
} from '@meshguard/core';
import { parseCommandArgs, UsageError } from '../args.js';
import type { CliContext, CommandHandler } from '../context.js';
import { describeCertificate } from '../output.js';

const USAGE = 'meshguard cert install <file | -> | meshguard cert show [file]';
/** Base64 of a full 314-byte slot is 420 characters; allow a trailing newline or two. */
const MAX_CERT_INPUT = 512;

/**
 * Certificates arrive as the raw 186/314-byte file from `org-sign`, or as base64 text
 * (MeshNode status, copy-paste). Both are accepted; anything else is refused.
 */
export function parseCertificateInput(bytes: Uint8Array, source: string): NodeCertificate {
  if (bytes.length >= CERT_V1_BYTES && bytes.length <= CERT_SLOT_BYTES && (bytes[0] === 1 || bytes[0] === 2)) {
    return decodeNodeCertificate(bytes);
  }
  const text = Buffer.from(bytes).toString('latin1').trim();
  for (const size of [CERT_SLOT_BYTES, CERT_V1_BYTES]) {
    if (text.length === 4 * Math.ceil(size / 3)) return decodeNodeCertificate(decodeBase64Exact(text, size, source));
  }
  throw new ArgumentError(
    `${source}: not a certificate (expected ${CERT_V1_BYTES}-${CERT_SLOT_BYTES} bytes or their base64)`,
  );
}

function readInput(arg: string, ctx: CliContext): Uint8Array {
  const bytes = arg === '-' ? ctx.readStdin() : readFileLimited(arg, MAX_CERT_INPUT);
  if (bytes.length > MAX_CERT_INPUT) throw new ArgumentError(`${arg}: larger than ${MAX_CERT_INPUT} bytes`);
  return bytes;
}

export const certCommand: CommandHandler = (args, ctx) => {
  const [sub, ...rest] = args;
  if (sub === 'install') certInstall(rest, ctx);
  else if (sub === 'show') certShow(rest, ctx);
  else throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`, USAGE);
};

/**
 * Installs node.cert only if it would be accepted by a peer: for our identity, signed,
 * unexpired, from an org we trust, not revoked. A bad certificate never replaces a good one.
 */
function certInstall(args: readonly string[], ctx: CliContext): void {
  const { positionals } = parseCommandArgs(args, {}, 'meshguard cert install <file | ->', { min: 1, max: 1 });
  const source = positionals[0]!;
  const cert = parseCertificateInput(readInput(source, ctx), source);
  const identity = loadPublicKey(identityLocation(ctx.configDir));
  const { trust } = loadTrust(ctx.configDir, { now: ctx.now() });
  const check = validateCertificate(cert, {
    now: ctx.now(),
    expectedNode: identity,
    isTrustedOrg: trust.isTrustedOrg,
    isRevoked: trust.isRevoked,
  });
  if (!check.ok) {
    const hint = check.problem === 'untrusted-org' ? ' (run `meshguard trust <org-key> --org` first)' : '';
    throw new MeshguardError('invalid-certificate', `certificate refused: ${check.message}${hint}`);
  }
  const path = join(ctx.configDir, ConfigPaths.nodeCert);
  writeFileAtomic(path, encodeNodeCertificate(cert), { mode: 0o644 });
  for (const line of describeCertificate(cert)) ctx.out(line);
  ctx.out(`installed:   ${path}`);
}

function certShow(args: readonly string[], ctx: CliContext): void {
  const { positionals } = parseCommandArgs(args, {}, 'meshguard cert show [file | -]', { min: 0, max: 1 });
  const source = positionals[0] ?? join(ctx.configDir, ConfigPaths.nodeCert);
  const cert = parseCertificateInput(readInput(source, ctx), source);
  for (const line of describeCertificate(cert)) ctx.out(line);
  const { trust } = loadTrust(ctx.configDir, { now: ctx.now() });
  const check = validateCertificate(cert, {
    now: ctx.now(),
    isTrustedOrg: trust.isTrustedOrg,
    isRevoked: trust.isRevoked,
  });
  ctx.out(`status:      ${check.ok ? 'valid' : `INVALID: ${check.message}`}`);
}
