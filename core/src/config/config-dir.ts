import { homedir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';

/**
 * MESHGUARD_CONFIG_DIR verbatim, else `$XDG_CONFIG_HOME/meshguard`, else
 * `~/.config/meshguard`. Unlike the reference we do not switch to /etc/meshguard for root:
 * the directory never changes under `sudo`, and system units set MESHGUARD_CONFIG_DIR.
 */
export function resolveConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['MESHGUARD_CONFIG_DIR'];
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env['XDG_CONFIG_HOME'];
  if (xdg !== undefined && xdg !== '') return join(xdg, 'meshguard');
  const home = env['HOME'] ?? homedir();
  if (home === '') throw new ArgumentError('cannot find the config dir: set MESHGUARD_CONFIG_DIR or HOME');
  return join(home, '.config', 'meshguard');
}

/** Names of everything in the config dir (spec §1.2). */
export const ConfigPaths = {
  identityKey: 'identity.key',
  identityPub: 'identity.pub',
  authorizedKeys: 'authorized_keys',
  trustedOrgs: 'trusted_orgs',
  orgKey: join('org', 'org.key'),
  orgPub: join('org', 'org.pub'),
  nodeCert: 'node.cert',
  revoked: 'revoked',
  vouched: 'vouched',
  services: 'services',
  seeds: 'seeds',
} as const;
