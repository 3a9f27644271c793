import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { errorMessage, MeshguardError } from '@meshguard/core';
import { controlSocketCandidates } from './control-paths.js';

export interface ControlHandler {
  status(): unknown;
  peers(): unknown;
  stop(): void;
}

/** A command line is short; anything longer is not a client of ours. */
const MAX_REQUEST_BYTES = 64;

/**
 * The daemon's control socket (spec §12.3): the client writes `COMMAND\n`, reads one JSON line,
 * and the server closes. Unlike the reference (0666, STOP checked by peer uid) the socket is
 * 0600: only the daemon's own user — or root — can connect at all, which also keeps the peer
 * list private.
 */
export class ControlServer {
  readonly path: string;
  readonly #server: Server;

  private constructor(path: string, server: Server) {
    this.path = path;
    this.#server = server;
  }

  static async listen(configDir: string, handler: ControlHandler): Promise<ControlServer> {
    const failures: string[] = [];
    for (const path of controlSocketCandidates(configDir)) {
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        try {
          unlinkSync(path);
        } catch {
          // no stale socket
        }
        const server = createServer((socket) => {
          let request = '';
          socket.setEncoding('utf8');
          socket.on('error', () => undefined);
          socket.on('data', (chunk: string) => {
            request += chunk;
            if (request.length > MAX_REQUEST_BYTES) {
              socket.end('{"error":"request too long"}\n');
              return;
            }
            if (!request.includes('\n')) return;
            socket.end(`${answer(request.trim(), handler)}\n`);
          });
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(path, () => {
            resolve();
          });
        });
        chmodSync(path, 0o600);
        return new ControlServer(path, server);
      } catch (err) {
        failures.push(`${path}: ${errorMessage(err)}`);
      }
    }
    throw new MeshguardError('io', `cannot create the control socket (${failures.join('; ')})`);
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

function answer(command: string, handler: ControlHandler): string {
  try {
    switch (command) {
      case 'STATUS':
        return JSON.stringify(handler.status());
      case 'PEERS':
        return JSON.stringify(handler.peers());
      case 'STOP':
        // Answer first: the stop closes this socket.
        setImmediate(() => {
          handler.stop();
        });
        return '{"ok":true,"stopping":true}';
      default:
        return '{"error":"unknown command"}';
    }
  } catch (err) {
    return JSON.stringify({ error: errorMessage(err) });
  }
}
