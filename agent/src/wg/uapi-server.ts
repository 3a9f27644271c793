import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage, MeshguardError } from '@meshguard/core';
import {
  formatUapiResponse,
  MAX_UAPI_MESSAGE_BYTES,
  takeUapiRequest,
  UAPI_ERRNO,
  type UapiRequest,
} from '../wgquick/uapi-framing.js';
import { formatUapiGet, parseUapiSet, type UapiSetRequest, type UapiDeviceSnapshot } from '../wgquick/uapi.js';
import { UAPI_SOCKET_DIR } from './wg-paths.js';

export interface UapiHandler {
  snapshot(): UapiDeviceSnapshot;
  /** Applies a set request; throws a MeshguardError (errno -22) for requests it refuses. */
  apply(request: UapiSetRequest): Promise<void>;
}

/**
 * The WireGuard cross-platform UAPI on a Unix socket (mode 0600: whoever can talk to it can
 * read the private key). One request per connection, as `wg` sends them.
 */
export class UapiServer {
  readonly #server: Server;
  readonly path: string;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.path = path;
  }

  static async listen(path: string, handler: UapiHandler): Promise<UapiServer> {
    mkdirSync(UAPI_SOCKET_DIR, { recursive: true, mode: 0o755 });
    try {
      unlinkSync(path); // a stale socket of a crashed daemon; a live one was checked by the caller
    } catch {
      // none there
    }
    const server = createServer((socket) => {
      serve(socket, handler);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        resolve();
      });
    });
    chmodSync(path, 0o600);
    return new UapiServer(server, path);
  }

  close(): void {
    this.#server.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

function serve(socket: Socket, handler: UapiHandler): void {
  let buffer = '';
  let busy = false;
  socket.setEncoding('latin1');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    if (busy) return;
    buffer += chunk;
    if (buffer.length > MAX_UAPI_MESSAGE_BYTES) {
      socket.end(formatUapiResponse({ lines: [], errno: UAPI_ERRNO.invalid }));
      return;
    }
    let taken;
    try {
      taken = takeUapiRequest(buffer);
    } catch {
      socket.end(formatUapiResponse({ lines: [], errno: UAPI_ERRNO.protocol }));
      return;
    }
    if (taken === null) return;
    busy = true;
    void answer(taken.message, handler).then((text) => socket.end(text));
  });
}

async function answer(request: UapiRequest, handler: UapiHandler): Promise<string> {
  if (request.command === 'get') return formatUapiGet(handler.snapshot());
  try {
    await handler.apply(parseUapiSet(request.lines));
    return formatUapiResponse({ lines: [], errno: UAPI_ERRNO.ok });
  } catch (err) {
    const errno = err instanceof MeshguardError ? UAPI_ERRNO.invalid : UAPI_ERRNO.io;
    process.stderr.write(`uapi set refused: ${errorMessage(err)}\n`);
    return formatUapiResponse({ lines: [], errno });
  }
}
