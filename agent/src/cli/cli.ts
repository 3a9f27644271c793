import { readFileSync } from 'node:fs';
import { MeshguardError, resolveConfigDir } from '@meshguard/core';
import { UsageError } from './args.js';
import type { AsyncCommandHandler, CliContext, CommandHandler } from './context.js';
import { agentCommand } from './commands/agent.js';
import { certCommand } from './commands/cert.js';
import { configShowCommand } from './commands/config-show.js';
import { exportCommand, keygenCommand } from './commands/keygen.js';
import { orgKeygenCommand, orgRevokeCommand, orgSignCommand, orgVouchCommand } from './commands/org.js';
import { serviceCommand } from './commands/service.js';
import { revokeCommand, trustCommand } from './commands/trust.js';
import { downCommand, statusCommand, upCommand } from './commands/up.js';
import { wgCommand } from './commands/wg.js';
import { COMPATIBLE_WITH, meshguardVersion } from './version.js';

interface Command {
  readonly run: CommandHandler | AsyncCommandHandler;
  readonly summary: string;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  keygen: { run: keygenCommand, summary: "create this node's identity (identity.key 0600, identity.pub)" },
  export: { run: exportCommand, summary: 'print the identity public key (--wireguard: the WireGuard key)' },
  trust: { run: trustCommand, summary: 'trust a peer key, or an org key with --org' },
  revoke: { run: revokeCommand, summary: 'stop trusting a peer (or an org with --org) by name' },
  'org-keygen': { run: orgKeygenCommand, summary: 'create an org signing key (org/org.key 0600)' },
  'org-sign': { run: orgSignCommand, summary: 'sign a node certificate (v1, or v2 with --wg-pubkey)' },
  'org-vouch': { run: orgVouchCommand, summary: 'sign a vouch admitting a key into the org' },
  'org-revoke': { run: orgRevokeCommand, summary: 'sign a revocation of a node or issuer key' },
  cert: { run: certCommand, summary: "install or show this node's certificate (node.cert)" },
  service: { run: serviceCommand, summary: 'service port policy: allow|deny|default|list|show|reset' },
  config: { run: configShowCommand, summary: 'config show: everything in the config dir, and its problems' },
  up: { run: upCommand, summary: 'run this node: mesh interface, SWIM and WireGuard on UDP 51821 (foreground)' },
  agent: {
    run: agentCommand,
    summary: 'in-cluster node (DaemonSet): enroll a MeshNode, wait for its certificate, run the mesh',
  },
  status: { run: statusCommand, summary: 'the running node: identity, mesh IPs, peers (--json)' },
  down: { run: downCommand, summary: 'leave the mesh gracefully and stop the running node' },
  wg: { run: wgCommand, summary: 'plain WireGuard: wg up --config FILE | wg show [NAME] | wg down NAME' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: meshguard <command> [arguments]',
    '',
    'commands:',
    ...lines,
    `  ${'version'.padEnd(width)}  print the version`,
    '',
    'config dir: $MESHGUARD_CONFIG_DIR, else $XDG_CONFIG_HOME/meshguard, else ~/.config/meshguard',
  ].join('\n');
}

export function defaultContext(env: NodeJS.ProcessEnv = process.env): CliContext {
  return {
    // Resolved on first use, so `version` and `--help` work without a home directory and a
    // resolution failure is reported like any other command error.
    get configDir() {
      return resolveConfigDir(env);
    },
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    now: () => BigInt(Math.floor(Date.now() / 1000)),
    readStdin: () => new Uint8Array(readFileSync(0)),
  };
}

/**
 * Runs one command and returns the exit status: 0 ok, 1 refused (bad input, conflicts,
 * failed checks), 2 command-line usage. Errors are one line on stderr; stack traces only
 * for bugs, which are not MeshguardErrors.
 */
/** Synchronous for every command but the long-running ones (`wg`), which return a promise. */
export function runCli(argv: readonly string[], ctx: CliContext = defaultContext()): number | Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? ctx.err : ctx.out)(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version') {
    ctx.out(`meshguard ${meshguardVersion()} (${COMPATIBLE_WITH}; node ${process.version})`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    ctx.err(`meshguard: unknown command "${name}" (see meshguard --help)`);
    return 2;
  }
  let result: void | Promise<void>;
  try {
    result = command.run(args, ctx);
  } catch (err) {
    return exitStatus(name, err, ctx);
  }
  if (!(result instanceof Promise)) return 0;
  return result.then(
    () => 0,
    (err: unknown) => exitStatus(name, err, ctx),
  );
}

function exitStatus(name: string, err: unknown, ctx: CliContext): number {
  if (err instanceof UsageError) {
    ctx.err(`meshguard ${name}: ${err.message} (usage: ${err.usage})`);
    return 2;
  }
  if (err instanceof MeshguardError) {
    ctx.err(`meshguard ${name}: ${err.message}`);
    return 1;
  }
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
    // File system errors (EACCES, ENOSPC, …) come from the environment, not from a bug: one line.
    ctx.err(`meshguard ${name}: ${err.message}`);
    return 1;
  }
  throw err;
}
