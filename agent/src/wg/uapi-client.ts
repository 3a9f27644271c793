import { connect } from 'node:net';
import { MeshguardError, NotFoundError } from '@meshguard/core';
import { formatUapiRequest, takeUapiResponse, type UapiResponse } from '../wgquick/uapi-framing.js';
import { parseUapiGet, type UapiDeviceSnapshot } from '../wgquick/uapi.js';

const TIMEOUT_MS = 3000;

/** One request on a UAPI socket (ours or wireguard-go's), one response. */
export function uapiRequest(path: string, text: string): Promise<UapiResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MeshguardError('io', `${path}: no answer within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    socket.setEncoding('latin1');
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new NotFoundError(`no interface is listening on ${path}`)
          : new MeshguardError('io', `${path}: ${err.message}`),
      );
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const taken = takeUapiResponse(buffer);
      if (taken === null) return;
      clearTimeout(timer);
      socket.end();
      resolve(taken.message);
    });
    socket.write(text);
  });
}

export async function uapiGet(path: string): Promise<UapiDeviceSnapshot> {
  const response = await uapiRequest(path, formatUapiRequest({ command: 'get' }));
  if (response.errno !== 0) throw new MeshguardError('io', `${path}: get failed with errno ${response.errno}`);
  return parseUapiGet(response.lines);
}
