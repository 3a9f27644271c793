import { DecodeError } from '@meshguard/core';

/**
 * `wg show <iface> dump`: one tab-separated line for the interface (private key, public key,
 * listen port, fwmark), then one per peer (public key, preshared key, endpoint, allowed IPs,
 * latest handshake, rx bytes, tx bytes, persistent keepalive). Absent values are `(none)` or
 * `off`; the fwmark alone is hex (`0x%x`). Keys stay base64 strings, as the tests compare them
 * with `wg genkey` output.
 */

export interface WgDumpInterface {
  readonly privateKey: string | null;
  readonly publicKey: string | null;
  readonly listenPort: number;
  /** null: off. */
  readonly fwmark: number | null;
}

export interface WgDumpPeer {
  readonly publicKey: string;
  readonly presharedKey: string | null;
  /** `ip:port` or `[ipv6]:port`; null before the peer has one. */
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** Unix seconds of the latest handshake; 0 for none yet. */
  readonly latestHandshake: number;
  readonly rxBytes: bigint;
  readonly txBytes: bigint;
  /** Seconds; null: off. */
  readonly persistentKeepalive: number | null;
}

export interface WgDump {
  readonly interface: WgDumpInterface;
  readonly peers: readonly WgDumpPeer[];
}

const KEY = /^[A-Za-z0-9+/]{43}=$/;
const DECIMAL = /^(?:0|[1-9][0-9]{0,19})$/;

export function parseWgDump(text: string): WgDump {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const [first, ...rest] = lines;
  if (first === undefined) throw new DecodeError('wg dump: empty');
  const f = fields(first, 4, 1);
  const iface: WgDumpInterface = {
    privateKey: optionalKey(f[0]!, 'private key', 1),
    publicKey: optionalKey(f[1]!, 'public key', 1),
    listenPort: Number(decimal(f[2]!, 0xffffn, 'listen port', 1)),
    fwmark: f[3] === 'off' ? null : fwmark(f[3]!),
  };
  const peers = rest.map((line, i): WgDumpPeer => {
    const n = i + 2;
    const p = fields(line, 8, n);
    const publicKey = optionalKey(p[0]!, 'peer public key', n);
    if (publicKey === null) throw new DecodeError(`wg dump line ${n}: peer has no public key`);
    return {
      publicKey,
      presharedKey: optionalKey(p[1]!, 'preshared key', n),
      endpoint: p[2] === '(none)' ? null : p[2]!,
      allowedIps: p[3] === '(none)' ? [] : p[3]!.split(','),
      latestHandshake: Number(decimal(p[4]!, BigInt(Number.MAX_SAFE_INTEGER), 'latest handshake', n)),
      rxBytes: decimal(p[5]!, (1n << 64n) - 1n, 'rx bytes', n),
      txBytes: decimal(p[6]!, (1n << 64n) - 1n, 'tx bytes', n),
      persistentKeepalive: p[7] === 'off' ? null : Number(decimal(p[7]!, 0xffffn, 'persistent keepalive', n)),
    };
  });
  return { interface: iface, peers };
}

function fields(line: string, count: number, n: number): string[] {
  const parts = line.split('\t');
  if (parts.length !== count) {
    throw new DecodeError(`wg dump line ${n}: expected ${count} tab-separated fields, got ${parts.length}`);
  }
  return parts;
}

function optionalKey(text: string, what: string, n: number): string | null {
  if (text === '(none)') return null;
  if (!KEY.test(text)) throw new DecodeError(`wg dump line ${n}: ${what} is not a base64 key`);
  return text;
}

function decimal(text: string, max: bigint, what: string, n: number): bigint {
  const value = DECIMAL.test(text) ? BigInt(text) : -1n;
  if (value < 0n || value > max) throw new DecodeError(`wg dump line ${n}: ${what} "${text}" is not 0–${max}`);
  return value;
}

function fwmark(text: string): number {
  if (!/^0x[0-9a-f]{1,8}$/.test(text)) throw new DecodeError(`wg dump line 1: fwmark "${text}" is not off or 0x<hex>`);
  return parseInt(text.slice(2), 16);
}
