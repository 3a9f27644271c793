import { join } from 'node:path';

/** spec §12.3: /run/meshguard when it can be created, else the config dir. */
export const RUN_DIR = '/run/meshguard';
/** Overrides both, for several daemons on one host (the demo, tests): one socket per node. */
export const CONTROL_SOCKET_ENV = 'MESHGUARD_CONTROL_SOCKET';

export function controlSocketCandidates(configDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const explicit = env[CONTROL_SOCKET_ENV];
  if (explicit !== undefined && explicit !== '') return [explicit];
  return [join(RUN_DIR, 'meshguard.sock'), join(configDir, 'meshguard.sock')];
}
