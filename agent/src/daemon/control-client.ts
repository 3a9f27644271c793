import { connect } from 'node:net';
import { MeshguardError, NotFoundError } from '@meshguard/core';
import { controlSocketCandidates } from './control-paths.js';

const TIMEOUT_MS = 2000;

function ask(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MeshguardError('io', `${path}: no answer within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      resolve(reply.trim());
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(`${command}\n`);
  });
}

/** Sends a control command to the running daemon (trying /run first, then the config dir). */
export async function controlRequest(configDir: string, command: string): Promise<unknown> {
  for (const path of controlSocketCandidates(configDir)) {
    let text: string;
    try {
      text = await ask(path, command);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED') continue;
      throw err instanceof MeshguardError ? err : new MeshguardError('io', `${path}: ${String(err)}`);
    }
    return JSON.parse(text) as unknown;
  }
  throw new NotFoundError('meshguard is not running (no control socket answered)');
}
