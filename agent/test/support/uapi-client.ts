import { createConnection } from 'node:net';
import { errorMessage } from '@meshguard/core';
import { takeUapiResponse, type UapiResponse } from '../../src/wgquick/uapi-framing.js';

/**
 * Writes `requestText` (one or more whole UAPI requests) to a WireGuard UAPI socket and
 * collects `expectedResponses` responses. The tests talk to wireguard-go's socket directly with
 * this, so our framing and bodies meet a real implementation rather than only our own parser.
 * Send one request per call to wireguard-go: it reads a set body through a read-ahead scanner
 * that swallows any request written behind it.
 */
export function uapiExchange(
  socketPath: string,
  requestText: string,
  expectedResponses = 1,
  timeoutMs = 5000,
): Promise<UapiResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const responses: UapiResponse[] = [];
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete UAPI response within ${timeoutMs} ms; got ${JSON.stringify(buffer)}`));
    }, timeoutMs);
    const finish = (err?: unknown): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve(responses);
      else reject(err instanceof Error ? err : new Error(errorMessage(err)));
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(requestText, 'latin1'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      try {
        for (let taken = takeUapiResponse(buffer); taken !== null; taken = takeUapiResponse(buffer)) {
          responses.push(taken.message);
          buffer = taken.rest;
        }
      } catch (err) {
        finish(err);
        return;
      }
      if (responses.length >= expectedResponses) finish();
    });
    socket.on('error', finish);
    socket.on('close', () => finish(new Error(`socket closed after ${responses.length} UAPI responses`)));
  });
}
