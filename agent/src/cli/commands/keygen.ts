import {
  createKeyPair,
  deriveWireGuardKeyPair,
  encodeBase64,
  identityLocation,
  meshAddresses,
  loadKeyPair,
} from '@meshguard/core';
import { parseCommandArgs } from '../args.js';
import type { CommandHandler } from '../context.js';

const USAGE = 'meshguard keygen [--force]';

export const keygenCommand: CommandHandler = (args, ctx) => {
  const { values } = parseCommandArgs(args, { force: { type: 'boolean', default: false } }, USAGE, { min: 0, max: 0 });
  const pair = createKeyPair(identityLocation(ctx.configDir), { force: values.force });
  const addresses = meshAddresses(pair.publicKey);
  ctx.out(`identity:  ${encodeBase64(pair.publicKey)}`);
  ctx.out(`wireguard: ${encodeBase64(deriveWireGuardKeyPair(pair.seed).publicKey)}`);
  ctx.out(`mesh ipv4: ${addresses.ipv4}`);
  ctx.out(`mesh ipv6: ${addresses.ipv6}`);
  ctx.out(`written:   ${identityLocation(ctx.configDir).secretPath} (0600)`);
};

const EXPORT_USAGE = 'meshguard export [--wireguard]';

/**
 * Prints our identity public key, the one line another node passes to `meshguard trust`
 * or puts in a MeshNode's spec.publicKey. --wireguard prints the derived X25519 key instead,
 * for `org-sign --wg-pubkey`.
 */
export const exportCommand: CommandHandler = (args, ctx) => {
  const { values } = parseCommandArgs(args, { wireguard: { type: 'boolean', default: false } }, EXPORT_USAGE, {
    min: 0,
    max: 0,
  });
  const pair = loadKeyPair(identityLocation(ctx.configDir));
  ctx.out(encodeBase64(values.wireguard ? deriveWireGuardKeyPair(pair.seed).publicKey : pair.publicKey));
};
