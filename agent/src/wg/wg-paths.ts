import { basename } from 'node:path';
import { ArgumentError } from '@meshguard/core';

/** Where wireguard-go puts its UAPI sockets, so `wg show` from wireguard-tools finds ours too. */
export const UAPI_SOCKET_DIR = '/var/run/wireguard';

export function uapiSocketPath(interfaceName: string): string {
  return `${UAPI_SOCKET_DIR}/${interfaceName}.sock`;
}

export function daemonLogPath(interfaceName: string): string {
  return `${UAPI_SOCKET_DIR}/${interfaceName}.log`;
}

const INTERFACE_NAME = /^[a-zA-Z0-9_=+.-]{1,15}$/;

/** wg-quick's rule: the interface is named after the config file (`wg0.conf` → `wg0`). */
export function interfaceNameFor(configPath: string, explicit: string | undefined): string {
  const name = explicit ?? basename(configPath).replace(/\.conf$/, '');
  if (!INTERFACE_NAME.test(name)) {
    throw new ArgumentError(
      `interface name "${name}" is not 1-15 of a-z A-Z 0-9 _ = + . - (name the file e.g. wg0.conf, or use --interface)`,
    );
  }
  return name;
}
