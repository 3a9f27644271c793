import { encodeBase64, formatIpPrefix } from '@meshguard/core';
import { formatEndpoint } from '../swim/endpoint-codec.js';
import type { UapiDeviceSnapshot } from '../wgquick/uapi.js';
import { importPrivateKey } from '../wireguard/x25519.js';

function ago(seconds: number): string {
  if (seconds <= 0) return 'Now';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ] as const) {
    const n = Math.floor(seconds / size);
    seconds -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  }
  return `${parts.join(', ')} ago`;
}

function bytes(n: bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = -1;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(2)} ${units[i]!}`;
}

/** The layout of `wg show <iface>` from wireguard-tools, so existing habits and scripts carry over. */
export function formatWgShow(name: string, s: UapiDeviceSnapshot, nowMs: number): string[] {
  const lines = [`interface: ${name}`];
  if (s.privateKey !== null) {
    lines.push(`  public key: ${encodeBase64(importPrivateKey(s.privateKey).publicKey)}`, '  private key: (hidden)');
  }
  if (s.listenPort !== 0) lines.push(`  listening port: ${s.listenPort}`);
  for (const p of s.peers) {
    lines.push('', `peer: ${encodeBase64(p.publicKey)}`);
    if (p.presharedKey !== null) lines.push('  preshared key: (hidden)');
    if (p.endpoint !== null) lines.push(`  endpoint: ${formatEndpoint(p.endpoint)}`);
    lines.push(`  allowed ips: ${p.allowedIps.length === 0 ? '(none)' : p.allowedIps.map(formatIpPrefix).join(', ')}`);
    if (p.lastHandshakeTimeSec > 0n) {
      lines.push(`  latest handshake: ${ago(Math.floor(nowMs / 1000) - Number(p.lastHandshakeTimeSec))}`);
    }
    if (p.rxBytes > 0n || p.txBytes > 0n)
      lines.push(`  transfer: ${bytes(p.rxBytes)} received, ${bytes(p.txBytes)} sent`);
    if (p.persistentKeepaliveInterval > 0) {
      lines.push(`  persistent keepalive: every ${p.persistentKeepaliveInterval} seconds`);
    }
  }
  return lines;
}
