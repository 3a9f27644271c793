import { lookup } from 'node:dns/promises';
import { join } from 'node:path';
import { ArgumentError, ConfigPaths, DecodeError, isNotFound, readFileLimited } from '@meshguard/core';
import { parseQuickEndpointText, type QuickEndpoint } from '../wgquick/endpoint-text.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';

/** spec §1.11: seeds from all sources together. */
export const MAX_SEEDS = 16;
const SEEDS_FILE_MAX_BYTES = 1024;
export const DEFAULT_PORT = 51821;

/** `host:port`, `ip:port`, `[v6]:port`, or a bare host, IPv4 or IPv6 address meaning port 51821. */
export function parseSeed(text: string): QuickEndpoint {
  return parseHostPort(text, DEFAULT_PORT, 'seed');
}

/** The default port of STUN (RFC 5389). */
export const STUN_DEFAULT_PORT = 3478;

/** `--stun host[:port]`, like a seed but on port 3478 by default. */
export function parseStunServer(text: string): QuickEndpoint {
  return parseHostPort(text, STUN_DEFAULT_PORT, 'STUN server');
}

function parseHostPort(text: string, defaultPort: number, what: string): QuickEndpoint {
  const colons = text.split(':').length - 1;
  let withPort: string;
  if (text.startsWith('[')) withPort = text.endsWith(']') ? `${text}:${defaultPort}` : text;
  else if (colons > 1)
    withPort = `[${text}]:${defaultPort}`; // a bare IPv6 address
  else if (colons === 1) withPort = text;
  else withPort = `${text}:${defaultPort}`;
  try {
    return parseQuickEndpointText(withPort, `${what} "${text}"`);
  } catch (err) {
    throw new ArgumentError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * The `seeds` file (spec §1.10): one `ip:port` per line. Unlike the reference we also accept
 * host names there, resolved like --seed; a bad line is reported, not silently skipped.
 */
export function readSeedsFile(configDir: string): { seeds: QuickEndpoint[]; problems: string[] } {
  const path = join(configDir, ConfigPaths.seeds);
  let text: string;
  try {
    text = Buffer.from(readFileLimited(path, SEEDS_FILE_MAX_BYTES)).toString('utf8');
  } catch (err) {
    if (isNotFound(err)) return { seeds: [], problems: [] };
    return { seeds: [], problems: [`${path}: ${err instanceof Error ? err.message : String(err)}`] };
  }
  const seeds: QuickEndpoint[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/[\r \t]+$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      seeds.push(parseSeed(line));
    } catch (err) {
      problems.push(
        `${path}:${i + 1}: ${err instanceof DecodeError || err instanceof ArgumentError ? err.message : String(err)}`,
      );
    }
  });
  return { seeds, problems };
}

/** Resolves host names (every address they have); literal addresses pass through. At most MAX_SEEDS. */
export async function resolveSeeds(
  seeds: readonly QuickEndpoint[],
): Promise<{ endpoints: UdpEndpoint[]; problems: string[] }> {
  const endpoints: UdpEndpoint[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const seed of seeds) {
    let addresses: string[];
    if (seed.family === 'hostname') {
      try {
        addresses = (await lookup(seed.hostname, { all: true })).map((a) => a.address);
      } catch (err) {
        problems.push(`seed ${seed.hostname}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
    } else {
      addresses = [seed.address];
    }
    for (const address of addresses) {
      const key = `${address}|${seed.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (endpoints.length >= MAX_SEEDS) {
        problems.push(`more than ${MAX_SEEDS} seeds; ${address}:${seed.port} ignored`);
        continue;
      }
      endpoints.push({ address, port: seed.port });
    }
  }
  return { endpoints, problems };
}

/** More servers only add traffic: two are compared, the rest are spares. */
export const MAX_STUN_SERVERS = 4;

/**
 * STUN servers as UDP endpoints: IPv4 only (spec §10), one address per server — a name with
 * several addresses is still one server, and counting it twice would fake agreement.
 */
export async function resolveStunServers(
  servers: readonly QuickEndpoint[],
): Promise<{ endpoints: UdpEndpoint[]; problems: string[] }> {
  const endpoints: UdpEndpoint[] = [];
  const problems: string[] = [];
  for (const server of servers.slice(0, MAX_STUN_SERVERS)) {
    if (server.family === 6) {
      problems.push(`STUN server [${server.address}]:${server.port}: STUN is IPv4 only here`);
      continue;
    }
    let address = server.family === 4 ? server.address : null;
    if (server.family === 'hostname') {
      try {
        address = (await lookup(server.hostname, { family: 4 })).address;
      } catch (err) {
        problems.push(`STUN server ${server.hostname}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
    }
    if (address === null || endpoints.some((e) => e.address === address && e.port === server.port)) continue;
    endpoints.push({ address, port: server.port });
  }
  if (servers.length > MAX_STUN_SERVERS) problems.push(`more than ${MAX_STUN_SERVERS} STUN servers; the rest ignored`);
  return { endpoints, problems };
}
