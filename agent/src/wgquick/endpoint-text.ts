import { DecodeError, formatIPv6, parseIPv4, parseIPv6 } from '@meshguard/core';
import { formatEndpoint, type Endpoint } from '../swim/endpoint-codec.js';

/** A wg-quick `Endpoint` naming a host; resolving it is the caller's job, at the time it chooses. */
export interface HostnameEndpoint {
  readonly family: 'hostname';
  /** Lowercased; DNS is case-insensitive and one spelling makes comparisons simple. */
  readonly hostname: string;
  readonly port: number;
}

export type QuickEndpoint = Endpoint | HostnameEndpoint;

const PORT = /^[0-9]{1,5}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** `a.b.c.d:port` or `[v6]:port`: what UAPI carries, always already resolved. */
export function parseIpEndpointText(text: string, what: string): Endpoint {
  const endpoint = parseEndpointText(text, what, false);
  if (endpoint.family === 'hostname') throw new DecodeError(`${what}: "${text}" is not an IP endpoint`);
  return endpoint;
}

/** Like parseIpEndpointText, and also `hostname:port`. */
export function parseQuickEndpointText(text: string, what: string): QuickEndpoint {
  return parseEndpointText(text, what, true);
}

export function formatQuickEndpoint(endpoint: QuickEndpoint): string {
  return endpoint.family === 'hostname' ? `${endpoint.hostname}:${endpoint.port}` : formatEndpoint(endpoint);
}

function parseEndpointText(text: string, what: string, allowHostname: boolean): QuickEndpoint {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1 || text[close + 1] !== ':') {
      throw new DecodeError(`${what}: "${text}" is not of the form [address]:port`);
    }
    const host = text.slice(1, close);
    if (host.includes('%')) throw new DecodeError(`${what}: IPv6 zone identifiers are not supported`);
    const bytes = parseIPv6(host);
    if (bytes === null) throw new DecodeError(`${what}: "${host}" is not an IPv6 address`);
    return { family: 6, address: formatIPv6(bytes), port: parsePort(text.slice(close + 2), what) };
  }
  const colon = text.lastIndexOf(':');
  if (colon === -1) throw new DecodeError(`${what}: "${text}" has no :port`);
  const host = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1), what);
  // `wg` splits an unbracketed IPv6 endpoint at its last colon; that guess is refused here
  // because 2001:db8::1:51820 reads as two different endpoints.
  if (host.includes(':')) throw new DecodeError(`${what}: write an IPv6 endpoint as [address]:port`);
  const v4 = parseIPv4(host);
  if (v4 !== null) return { family: 4, address: host, port };
  if (!allowHostname) throw new DecodeError(`${what}: "${host}" is not an IP address`);
  return { family: 'hostname', hostname: parseHostname(host, what), port };
}

function parsePort(text: string, what: string): number {
  const port = PORT.test(text) ? Number(text) : NaN;
  // Port 0 is "any" for a listening socket but no destination a packet can be sent to.
  if (!(port >= 1 && port <= 0xffff)) throw new DecodeError(`${what}: port "${text}" is not 1–65535`);
  return port;
}

/**
 * RFC 1123 host names. A name whose last label is all digits is refused: it is a mistyped IPv4
 * address (`10.0.0.256`, `010.0.0.1`), and a resolver would otherwise send it to DNS.
 */
function parseHostname(host: string, what: string): string {
  const name = host.toLowerCase();
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  const valid =
    name.length <= 253 && labels.every((label) => LABEL.test(label)) && !/^[0-9]+$/.test(labels[labels.length - 1]!);
  if (!valid) throw new DecodeError(`${what}: "${host}" is neither an IP address nor a valid host name`);
  return name;
}
