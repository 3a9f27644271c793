import { join } from 'node:path';
import {
  ConfigPaths,
  deriveWireGuardKeyPair,
  encodeBase64,
  errorMessage,
  identityLocation,
  loadKeyPair,
  loadTrust,
  meshAddresses,
  NotFoundError,
  orgDomain,
  orgKeyLocation,
  loadPublicKey,
  revocationReasonName,
  formatUnixSeconds,
  loadServicePolicy,
} from '@meshguard/core';
import { parseCommandArgs, UsageError } from '../args.js';

const USAGE = 'meshguard config show';
import type { CommandHandler } from '../context.js';
import { describeCertificate } from '../output.js';

/** Everything the config dir says, including each file that was skipped and why. */
export const configShowCommand: CommandHandler = (args, ctx) => {
  const [sub, ...rest] = args;
  if (sub !== 'show')
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`, USAGE);
  parseCommandArgs(rest, {}, USAGE, { min: 0, max: 0 });
  const dir = ctx.configDir;
  ctx.out(`config dir: ${dir}`);

  ctx.out('identity:');
  try {
    const pair = loadKeyPair(identityLocation(dir));
    const a = meshAddresses(pair.publicKey);
    ctx.out(`  public key: ${encodeBase64(pair.publicKey)}`);
    ctx.out(`  wireguard:  ${encodeBase64(deriveWireGuardKeyPair(pair.seed).publicKey)}`);
    ctx.out(`  mesh ipv4:  ${a.ipv4}`);
    ctx.out(`  mesh ipv6:  ${a.ipv6}`);
  } catch (err) {
    ctx.out(`  none (${errorMessage(err)})`);
  }

  const loaded = loadTrust(dir, { now: ctx.now() });
  const { trust } = loaded;
  ctx.out(`authorized keys (${trust.authorizedKeys.length}):`);
  for (const k of trust.authorizedKeys)
    ctx.out(`  ${k.name}: ${encodeBase64(k.publicKey)} ${meshAddresses(k.publicKey).ipv4}`);
  ctx.out(`trusted orgs (${trust.trustedOrgs.length}):`);
  for (const o of trust.trustedOrgs)
    ctx.out(`  ${o.name}: ${encodeBase64(o.publicKey)} ${orgDomain(o.publicKey)}.mesh`);
  ctx.out(`revocations (${trust.revocations.length}):`);
  for (const r of trust.revocations) {
    const scope = trust.isTrustedOrg(r.orgPublicKey) ? '' : ' (org not trusted here)';
    ctx.out(
      `  ${encodeBase64(r.nodePublicKey)} by org ${orgDomain(r.orgPublicKey)}, ${revocationReasonName(r.reason)}, ${formatUnixSeconds(r.lamport)}${scope}`,
    );
  }
  ctx.out(`vouches (${trust.vouches.length}):`);
  for (const v of trust.vouches) ctx.out(`  ${encodeBase64(v.vouchedPublicKey)} by org ${orgDomain(v.orgPublicKey)}`);
  if (!trust.hasTrustAnchors) ctx.out('note: no authorized keys or trusted orgs — no peer will be admitted');

  ctx.out('node certificate:');
  if (loaded.nodeCertificate === undefined) {
    ctx.out(`  none (${join(dir, ConfigPaths.nodeCert)})`);
  } else {
    for (const line of describeCertificate(loaded.nodeCertificate.certificate)) ctx.out(`  ${line}`);
    const { check } = loaded.nodeCertificate;
    ctx.out(`  status:      ${check.ok ? 'valid' : `INVALID: ${check.message}`}`);
  }

  ctx.out('org key:');
  try {
    const org = loadPublicKey(orgKeyLocation(dir));
    ctx.out(`  ${encodeBase64(org)} (domain ${orgDomain(org)}.mesh)`);
  } catch (err) {
    ctx.out(err instanceof NotFoundError ? '  none' : `  unreadable (${errorMessage(err)})`);
  }

  const policy = loadServicePolicy(dir);
  ctx.out(`service policy: ${policy.summary}`);

  const problems = [...loaded.problems, ...policy.problems];
  if (problems.length > 0) {
    ctx.out(`problems (${problems.length}):`);
    for (const p of problems) ctx.out(`  ${p}`);
  }
};
