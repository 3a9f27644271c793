import { createSocket, type Socket } from 'node:dgram';
import { MeshguardError } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';

export type DatagramHandler = (data: Uint8Array, from: UdpEndpoint) => void;

/**
 * A node:dgram UDP socket with NativeUdpSocket's per-datagram interface: dual-stack, so IPv4
 * peers appear as plain dotted quads rather than `::ffff:` mapped addresses. The runtime uses
 * the native socket (batched syscalls); this one is the portable baseline `bench:udp` compares
 * against, and the fallback where the addon cannot be built.
 */
export class UdpSocket {
  readonly #socket: Socket;
  #handler: DatagramHandler = () => undefined;
  sendErrors = 0;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const address = rinfo.address.startsWith('::ffff:') ? rinfo.address.slice(7) : rinfo.address;
      this.#handler(msg, { address, port: rinfo.port });
    });
  }

  static async bind(port: number, address?: string): Promise<UdpSocket> {
    const socket = createSocket({ type: 'udp6', ipv6Only: false, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err) => {
        reject(new MeshguardError('io', `cannot bind UDP port ${port}: ${err.message}`));
      });
      socket.bind({ port, address: address ?? '::', exclusive: true }, () => {
        resolve();
      });
    });
    socket.on('error', () => undefined);
    return new UdpSocket(socket);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  onDatagram(handler: DatagramHandler): void {
    this.#handler = handler;
  }

  /** Copies `data`: dgram may send later, and callers (the device) reuse their buffers. */
  send(data: Uint8Array, to: UdpEndpoint): void {
    const address = to.address.includes(':') ? to.address : `::ffff:${to.address}`;
    this.#socket.send(Buffer.from(data), to.port, address, (err) => {
      if (err) this.sendErrors++;
    });
  }

  close(): void {
    this.#socket.close();
  }
}
