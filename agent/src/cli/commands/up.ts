import { existsSync } from 'node:fs';
import { ArgumentError, MeshguardError } from '@meshguard/core';
import { controlRequest } from '../../daemon/control-client.js';
import { controlSocketCandidates } from '../../daemon/control-paths.js';
import { MESH_PORT, MeshRuntime, OPEN_WARNING, type PeerStatus } from '../../daemon/mesh-runtime.js';
import { parseSeed, parseStunServer } from '../../daemon/seeds.js';
import { parseEndpoint } from '../../wireguard/endpoint.js';
import { parseCommandArgs } from '../args.js';
import type { AsyncCommandHandler } from '../context.js';

const UP_USAGE =
  'meshguard up [--seed HOST[:PORT]]... [--stun HOST[:PORT]]... [--port N] [--interface NAME] [--advertise IP:PORT] [--metrics IP:PORT] [--gossip-only] [--open]';

/** `meshguard up`: runs the node in the foreground until SIGINT/SIGTERM or `meshguard down`. */
export const upCommand: AsyncCommandHandler = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    {
      seed: { type: 'string', multiple: true },
      stun: { type: 'string', multiple: true },
      port: { type: 'string' },
      interface: { type: 'string' },
      advertise: { type: 'string' },
      metrics: { type: 'string' },
      'gossip-only': { type: 'boolean', default: false },
      open: { type: 'boolean', default: false },
    },
    UP_USAGE,
    { min: 0, max: 0 },
  );
  const port = values.port === undefined ? MESH_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ArgumentError(`--port must be 1-65535, got ${values.port ?? ''}`);
  const seeds = (values.seed ?? []).map(parseSeed);
  const stunServers = (values.stun ?? []).map(parseStunServer);
  try {
    await controlRequest(ctx.configDir, 'STATUS');
    throw new MeshguardError('conflict', 'meshguard is already running for this config dir (meshguard down)');
  } catch (err) {
    if (err instanceof MeshguardError && err.code === 'conflict') throw err;
  }
  const runtime = await MeshRuntime.start({
    configDir: ctx.configDir,
    port,
    seeds,
    stunServers,
    gossipOnly: values['gossip-only'],
    open: values.open,
    ...(values.interface === undefined ? {} : { interfaceName: values.interface }),
    ...(values.advertise === undefined ? {} : { advertise: parseEndpoint(values.advertise) }),
    ...(values.metrics === undefined ? {} : { metrics: parseEndpoint(values.metrics) }),
    log: ctx.err,
  });
  await new Promise<void>((done) => {
    const onSignal = (): void => {
      runtime.stop('signal');
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    runtime.onStop(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done();
    });
  });
};

function ago(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

function isPeerList(v: unknown): v is PeerStatus[] {
  return Array.isArray(v);
}

/** `meshguard status [--json]`: the running node's identity and its peers. */
export const statusCommand: AsyncCommandHandler = async (args, ctx) => {
  const { values } = parseCommandArgs(
    args,
    { json: { type: 'boolean', default: false } },
    'meshguard status [--json]',
    {
      min: 0,
      max: 0,
    },
  );
  const status = (await controlRequest(ctx.configDir, 'STATUS')) as Record<string, unknown>;
  if (values.json) {
    ctx.out(JSON.stringify(status));
    return;
  }
  ctx.out(`public key:  ${String(status['public_key'])}`);
  ctx.out(`mesh ips:    ${String(status['mesh_ip'])} ${String(status['mesh_ipv6'])}`);
  ctx.out(`udp port:    ${String(status['port'])}`);
  ctx.out(`mode:        ${String(status['mode'])}`);
  const trust = String(status['trust']);
  ctx.out(`trust:       ${trust === 'no-anchors' ? 'no-anchors (nobody is admitted: meshguard trust …)' : trust}`);
  if (trust === 'open') for (const line of OPEN_WARNING) ctx.err(line);
  const nat = status['nat'] as { type: string; public_endpoint: string | null; reason: string } | undefined;
  if (nat !== undefined) {
    ctx.out(`nat:         ${nat.type}${nat.public_endpoint === null ? '' : ` ${nat.public_endpoint}`} (${nat.reason})`);
  }
  const members = status['members'];
  if (!isPeerList(members) || members.length === 0) {
    ctx.out('peers:       none');
    return;
  }
  const rows = [['MESH IP', 'STATE', 'ENDPOINT', 'NAT', 'PATH', 'HANDSHAKE', 'RX', 'TX']];
  for (const p of members) {
    rows.push([
      p.meshIPv4,
      p.state,
      p.endpoint ?? '-',
      p.natType,
      p.path === null ? 'no tunnel' : p.path === 'relay' ? `relay ${p.relay ?? ''}` : p.path,
      ago(p.lastHandshake),
      String(p.rxBytes),
      String(p.txBytes),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows)
    ctx.out(
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
};

/** `meshguard down`: graceful leave and stop of the running node. */
export const downCommand: AsyncCommandHandler = async (args, ctx) => {
  parseCommandArgs(args, {}, 'meshguard down', { min: 0, max: 0 });
  await controlRequest(ctx.configDir, 'STOP');
  const deadline = Date.now() + 5000;
  const sockets = controlSocketCandidates(ctx.configDir);
  while (Date.now() < deadline && sockets.some((s) => existsSync(s))) await new Promise((r) => setTimeout(r, 50));
  ctx.out('meshguard stopped');
};
