import { spawn } from 'node:child_process';
import { existsSync, openSync, readdirSync, readFileSync, closeSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, errorMessage, MeshguardError, NotFoundError, readFileLimited } from '@meshguard/core';
import { TunDevice } from '../../net/tun-device.js';
import { uapiGet } from '../../wg/uapi-client.js';
import { daemonLogPath, interfaceNameFor, UAPI_SOCKET_DIR, uapiSocketPath } from '../../wg/wg-paths.js';
import { WgRuntime } from '../../wg/wg-runtime.js';
import { formatWgShow } from '../../wg/wg-show-format.js';
import { MAX_WG_QUICK_CONFIG_BYTES, parseWgQuickConfig } from '../../wgquick/quick-config.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from '../../wireguard/constants.js';
import { parseCommandArgs, UsageError } from '../args.js';
import type { AsyncCommandHandler, CliContext } from '../context.js';

const USAGE = 'meshguard wg up --config FILE [--interface NAME] [--foreground] | wg show [NAME] | wg down NAME';
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** Test-only: shortened timers (JSON of ProtocolLimits fields) so rekey tests take seconds. */
const TEST_LIMITS_ENV = 'MESHGUARD_TEST_PROTOCOL_LIMITS';

const sleep = (ms: number): Promise<void> =>
  new Promise((r) => {
    setTimeout(r, ms);
  });

function testLimits(ctx: CliContext): Partial<ProtocolLimits> | undefined {
  const text = process.env[TEST_LIMITS_ENV];
  if (text === undefined || text === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ArgumentError(`${TEST_LIMITS_ENV} is not JSON`);
  }
  const limits: Record<string, number> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(key in DEFAULT_LIMITS) || typeof value !== 'number' || !(value > 0)) {
      throw new ArgumentError(`${TEST_LIMITS_ENV}: bad field ${key}`);
    }
    limits[key] = value;
  }
  ctx.err(`WARNING: ${TEST_LIMITS_ENV} is set: WireGuard timers are shortened for testing, do not use in production`);
  return limits;
}

async function isLive(name: string): Promise<boolean> {
  try {
    await uapiGet(uapiSocketPath(name));
    return true;
  } catch {
    return false;
  }
}

async function up(args: readonly string[], ctx: CliContext): Promise<void> {
  const { values } = parseCommandArgs(
    args,
    { config: { type: 'string' }, interface: { type: 'string' }, foreground: { type: 'boolean', default: false } },
    USAGE,
    { min: 0, max: 0 },
  );
  if (values.config === undefined) throw new UsageError('--config is required', USAGE);
  const configPath = resolve(values.config);
  const name = interfaceNameFor(configPath, values.interface);
  const config = parseWgQuickConfig(readFileLimited(configPath, MAX_WG_QUICK_CONFIG_BYTES));
  if (await isLive(name)) throw new MeshguardError('conflict', `${name} is already up (meshguard wg down ${name})`);
  const limits = testLimits(ctx);

  if (values.foreground) {
    const runtime = await WgRuntime.start({
      interfaceName: name,
      config,
      ...(limits === undefined ? {} : { limits }),
      log: ctx.err,
    });
    const stopped = new Promise<void>((done) => {
      runtime.onStop(() => {
        done();
      });
    });
    const onSignal = (): void => {
      runtime.stop('signal');
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    await stopped;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    return;
  }

  // Detach a foreground daemon, as wg-quick leaves wireguard-go running, and wait until it answers.
  const logPath = daemonLogPath(name);
  const log = openSync(logPath, 'w', 0o600);
  const main = fileURLToPath(new URL('../main.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [main, 'wg', 'up', '--foreground', '--config', configPath, '--interface', name],
    {
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  closeSync(log);
  const daemon = { exited: false };
  child.once('exit', () => (daemon.exited = true));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !daemon.exited) {
    if (await isLive(name)) {
      child.unref();
      const snapshot = await uapiGet(uapiSocketPath(name));
      ctx.out(
        `${name}: up (pid ${child.pid ?? '?'}, UDP port ${snapshot.listenPort}, ${snapshot.peers.length} peer(s), log ${logPath})`,
      );
      return;
    }
    await sleep(50);
  }
  if (!daemon.exited) child.kill('SIGTERM');
  const reason = readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean).at(-1) ?? 'no output';
  throw new MeshguardError('io', `${name} did not come up: ${reason}`);
}

async function show(args: readonly string[], ctx: CliContext): Promise<void> {
  const { positionals } = parseCommandArgs(args, {}, USAGE, { min: 0, max: 1 });
  const names =
    positionals[0] !== undefined
      ? [positionals[0]]
      : existsSync(UAPI_SOCKET_DIR)
        ? readdirSync(UAPI_SOCKET_DIR)
            .filter((f) => f.endsWith('.sock'))
            .map((f) => f.slice(0, -5))
            .sort()
        : [];
  let first = true;
  for (const name of names) {
    let snapshot;
    try {
      snapshot = await uapiGet(uapiSocketPath(name));
    } catch (err) {
      if (positionals[0] !== undefined) throw err;
      continue; // a stale socket in a listing
    }
    if (!first) ctx.out('');
    first = false;
    for (const line of formatWgShow(name, snapshot, Date.now())) ctx.out(line);
  }
}

async function down(args: readonly string[], ctx: CliContext): Promise<void> {
  const { positionals } = parseCommandArgs(args, {}, USAGE, { min: 1, max: 1 });
  const name = interfaceNameFor(positionals[0]!, undefined);
  const socket = uapiSocketPath(name);
  if (!(await isLive(name))) {
    if (existsSync(socket)) unlinkSync(socket);
    throw new NotFoundError(`${name} is not up`);
  }
  // Deleting the link is what stops the daemon (its TUN reads fail), as with wireguard-go.
  TunDevice.deleteLink(name);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline && existsSync(socket)) await sleep(50);
  if (existsSync(socket)) throw new MeshguardError('io', `${name}: link deleted but the daemon did not exit`);
  ctx.out(`${name}: down`);
}

export const wgCommand: AsyncCommandHandler = async (args, ctx) => {
  const [sub, ...rest] = args;
  try {
    if (sub === 'up') await up(rest, ctx);
    else if (sub === 'show') await show(rest, ctx);
    else if (sub === 'down') await down(rest, ctx);
    else throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`, USAGE);
  } catch (err) {
    if (err instanceof MeshguardError || !(err instanceof Error)) throw err;
    throw new MeshguardError('io', errorMessage(err), { cause: err });
  }
};
