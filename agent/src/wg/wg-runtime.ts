import { lookup } from 'node:dns/promises';
import { ArgumentError, bytesEqual, errorMessage, formatIpPrefix, maskIpPrefix, parseIpPrefix } from '@meshguard/core';
import { classifyDatagram } from '../net/datagram-classifier.js';
import { TunDevice } from '../net/tun-device.js';
import { CoalescingSender } from '../net/coalescing-sender.js';
import { NativeUdpSocket } from '../net/native-udp-socket.js';
import type { Endpoint } from '../swim/endpoint-codec.js';
import type { QuickEndpoint } from '../wgquick/endpoint-text.js';
import type { WgQuickConfig } from '../wgquick/quick-config.js';
import type { UapiDeviceSnapshot, UapiSetRequest } from '../wgquick/uapi.js';
import type { ProtocolLimits } from '../wireguard/constants.js';
import { WireGuardDevice } from '../wireguard/device.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { UapiServer } from './uapi-server.js';
import { uapiSocketPath } from './wg-paths.js';

export interface WgRuntimeOptions {
  readonly interfaceName: string;
  readonly config: WgQuickConfig;
  /** Test-only: shortened protocol timers. */
  readonly limits?: Partial<ProtocolLimits>;
  readonly log?: (line: string) => void;
}

const DEFAULT_MTU = 1420;
/** Timer resolution: WireGuard's shortest timer is REKEY_TIMEOUT (5 s) with ~333 ms of jitter. */
const TICK_MS = 50;

async function resolveEndpoint(e: QuickEndpoint): Promise<UdpEndpoint> {
  if (e.family !== 'hostname') return { address: e.address, port: e.port };
  const found = await lookup(e.hostname);
  return { address: found.address, port: e.port };
}

function toCodecEndpoint(e: UdpEndpoint): Endpoint {
  return e.address.includes(':')
    ? { family: 6, address: e.address, port: e.port }
    : { family: 4, address: e.address, port: e.port };
}

/**
 * `meshguard wg up`: one WireGuard interface in plain-WireGuard mode — the TUN device, one UDP
 * socket, the sans-I/O device between them, its timers, and a UAPI socket for `wg`-style
 * inspection and changes. Stops when asked, or when the interface is deleted underneath it.
 */
export class WgRuntime {
  readonly interfaceName: string;
  readonly device: WireGuardDevice;
  readonly #tun: TunDevice;
  #udp: NativeUdpSocket;
  #sender: CoalescingSender;
  #uapi: UapiServer | null = null;
  readonly #timer: NodeJS.Timeout;
  readonly #log: (line: string) => void;
  #stopped = false;
  readonly #stopListeners: Array<(reason: string) => void> = [];

  private constructor(
    name: string,
    device: WireGuardDevice,
    tun: TunDevice,
    udp: NativeUdpSocket,
    log: (line: string) => void,
  ) {
    this.interfaceName = name;
    this.device = device;
    this.#tun = tun;
    this.#udp = udp;
    this.#sender = new CoalescingSender(udp);
    this.#log = log;
    this.#timer = setInterval(() => {
      device.tick();
    }, TICK_MS);
  }

  static async start(options: WgRuntimeOptions): Promise<WgRuntime> {
    const { config, interfaceName } = options;
    const log = options.log ?? (() => undefined);
    for (const peer of config.peers) {
      for (const prefix of peer.allowedIps) {
        if (prefix.prefixLength === 0) {
          throw new ArgumentError(
            `AllowedIPs ${formatIpPrefix(prefix)}: full-tunnel routing needs policy routing, which meshguard wg does not set up; list the networks instead`,
          );
        }
      }
    }
    const endpoints = await Promise.all(
      config.peers.map((p) => (p.endpoint === null ? Promise.resolve(null) : resolveEndpoint(p.endpoint))),
    );
    const mtu = config.interface.mtu ?? DEFAULT_MTU;
    const udp = await NativeUdpSocket.bind(config.interface.listenPort ?? 0);
    let tun: TunDevice;
    try {
      tun = TunDevice.open(interfaceName);
    } catch (err) {
      udp.close();
      throw err;
    }
    let runtime: WgRuntime | undefined;
    try {
      const device = new WireGuardDevice(
        {
          privateKey: config.interface.privateKey,
          mtu,
          ...(options.limits === undefined ? {} : { limits: options.limits }),
        },
        {
          sendUdp: (packet, to) => {
            runtime?.send(packet, to);
          },
          writeTun: (packet) => {
            tun.write(packet);
          },
        },
      );
      runtime = new WgRuntime(interfaceName, device, tun, udp, log);
      config.peers.forEach((p, i) => {
        device.addPeer({
          publicKey: p.publicKey,
          ...(p.presharedKey === null ? {} : { presharedKey: p.presharedKey }),
          endpoint: endpoints[i] ?? null,
          allowedIps: p.allowedIps.map(formatIpPrefix),
          persistentKeepaliveSeconds: p.persistentKeepalive,
        });
      });
      tun.configure({
        mtu,
        addresses: config.interface.addresses.map(formatIpPrefix),
        up: true,
        routes: runtime.#routes(config),
      });
      runtime.#wire();
      runtime.#uapi = await UapiServer.listen(uapiSocketPath(interfaceName), {
        snapshot: () => runtime!.snapshot(),
        apply: (request) => runtime!.apply(request),
      });
      log(`${interfaceName}: up, listening on UDP ${udp.port}, ${config.peers.length} peer(s)`);
      return runtime;
    } catch (err) {
      if (runtime !== undefined) runtime.stop(`start failed: ${errorMessage(err)}`);
      else {
        tun.close();
        udp.close();
      }
      throw err;
    }
  }

  /** Routes for allowed IPs that the interface's own prefixes do not already cover, as wg-quick adds them. */
  #routes(config: WgQuickConfig): string[] {
    const covered = new Set(config.interface.addresses.map((a) => formatIpPrefix(maskIpPrefix(a))));
    const routes = new Set<string>();
    for (const peer of config.peers) for (const p of peer.allowedIps) routes.add(formatIpPrefix(p));
    return [...routes].filter((r) => !covered.has(r));
  }

  #wire(): void {
    this.#udp.onDatagrams((batch) => {
      for (let i = 0; i < batch.count; i++) {
        const data = batch.datagram(i);
        // Plain WireGuard mode speaks nothing else on its port (mesh mode adds SWIM, STUN, relay).
        if (classifyDatagram(data) === 'wireguard') this.device.handleDatagram(data, batch.endpoint(i));
      }
    });
    this.#tun.onPackets(
      (batch) => {
        for (let i = 0; i < batch.count; i++) this.device.handleTunPacket(batch.packet(i));
      },
      (error) => {
        this.stop(`TUN device failed: ${error.message}`);
      },
    );
  }

  /** The device's UDP output; the socket may be replaced by a UAPI listen_port change. */
  send(packet: Uint8Array, to: UdpEndpoint): void {
    if (!this.#stopped) this.#sender.send(packet, to);
  }

  get listenPort(): number {
    return this.#udp.port;
  }

  onStop(listener: (reason: string) => void): void {
    this.#stopListeners.push(listener);
  }

  snapshot(): UapiDeviceSnapshot {
    return {
      privateKey: this.device.privateKey,
      listenPort: this.#udp.port,
      fwmark: 0,
      peers: [...this.device.peers()].map((peer) => {
        const ms = peer.stats.lastHandshakeWallMs;
        return {
          publicKey: peer.remote.publicKey,
          presharedKey: peer.remote.presharedKey.some((b) => b !== 0) ? peer.remote.presharedKey : null,
          endpoint: peer.endpoint === null ? null : toCodecEndpoint(peer.endpoint),
          lastHandshakeTimeSec: BigInt(Math.floor(ms / 1000)),
          lastHandshakeTimeNsec: (ms % 1000) * 1_000_000,
          txBytes: BigInt(peer.stats.txBytes),
          rxBytes: BigInt(peer.stats.rxBytes),
          persistentKeepaliveInterval: peer.persistentKeepaliveMs / 1000,
          allowedIps: this.device.allowedIpsOf(peer).map((text) => parseIpPrefix(text, { hostBits: 'clear' })),
        };
      }),
    };
  }

  /** Applies a UAPI set=1 request, in order, as wireguard-go does. */
  async apply(request: UapiSetRequest): Promise<void> {
    const d = request.device;
    if (d.privateKey === null) throw new ArgumentError('removing the private key is not supported');
    if (d.fwmark !== undefined && d.fwmark !== 0) throw new ArgumentError('fwmark is not supported');
    if (d.privateKey !== undefined && !bytesEqual(d.privateKey, this.device.privateKey))
      this.device.setPrivateKey(d.privateKey);
    if (d.listenPort !== undefined && d.listenPort !== this.#udp.port) {
      const udp = await NativeUdpSocket.bind(d.listenPort);
      this.#sender.flush();
      this.#udp.close();
      this.#udp = udp;
      this.#sender = new CoalescingSender(udp);
      this.#wire();
    }
    if (d.replacePeers) for (const peer of [...this.device.peers()]) this.device.removePeer(peer.remote.publicKey);
    for (const update of request.peers) {
      if (update.kind === 'remove') {
        this.device.removePeer(update.publicKey);
        continue;
      }
      const existing = this.device.peer(update.publicKey);
      if (existing === undefined && update.updateOnly) continue;
      const kept = existing === undefined || update.replaceAllowedIps ? [] : this.device.allowedIpsOf(existing);
      this.device.addPeer({
        publicKey: update.publicKey,
        ...(update.presharedKey === undefined ? {} : { presharedKey: update.presharedKey ?? new Uint8Array(32) }),
        ...(update.endpoint === undefined
          ? {}
          : { endpoint: { address: update.endpoint.address, port: update.endpoint.port } }),
        allowedIps: [...kept, ...update.allowedIps.map(formatIpPrefix)],
        ...(update.persistentKeepaliveInterval === undefined
          ? existing === undefined
            ? {}
            : { persistentKeepaliveSeconds: existing.persistentKeepaliveMs / 1000 }
          : { persistentKeepaliveSeconds: update.persistentKeepaliveInterval }),
      });
    }
  }

  /** Idempotent: stops timers, closes the UAPI socket, the UDP socket and the TUN device (removing the link). */
  stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#sender.flush();
    this.#uapi?.close();
    this.#udp.close();
    this.#tun.close();
    for (const peer of [...this.device.peers()]) this.device.removePeer(peer.remote.publicKey);
    this.#log(`${this.interfaceName}: down (${reason})`);
    for (const listener of this.#stopListeners) listener(reason);
  }
}
