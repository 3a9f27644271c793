import {
  bytesEqual,
  deriveWireGuardKeyPair,
  encodeBase64,
  encodeNodeCertificate,
  encodeOrgMessage,
  identityLocation,
  isTieBreakInitiator,
  loadKeyPair,
  meshAddresses,
  toHex,
  TrustSet,
  evaluatePolicyByHex,
  loadServicePolicy,
  type LoadedTrust,
  type ServicePolicy,
  type WireGuardKeyPair,
} from '@meshguard/core';
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { TAG_HOLEPUNCH_REQUEST, TAG_HOLEPUNCH_RESPONSE } from '../nat/holepunch-codec.js';
import { NatTraversal, type NatMember, type NatMembership, type NatPeer } from '../nat/nat-traversal.js';
import type { PathType } from '../nat/path-manager.js';
import { AgentHttpServer, type HealthCheck } from '../http/agent-http-server.js';
import { createMeshMetrics, type MeshMetricsSource } from '../metrics/mesh-metrics.js';
import { CoalescingSender } from '../net/coalescing-sender.js';
import { classifyDatagram, type DatagramDropReason } from '../net/datagram-classifier.js';
import { NativeUdpSocket } from '../net/native-udp-socket.js';
import { TunDevice } from '../net/tun-device.js';
import type { TrustAuthority } from '../swim/admission-gate.js';
import type { MemberSnapshot } from '../swim/member.js';
import type { SwimEvent } from '../swim/swim-events.js';
import { SwimNode } from '../swim/swim-node.js';
import type { SwimConfig } from '../swim/swim-config.js';
import { TrustWatcher } from '../trust/trust-watcher.js';
import { WireGuardDevice } from '../wireguard/device.js';
import type { Peer } from '../wireguard/peer.js';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import { ControlServer } from './control-server.js';
import { readSeedsFile, resolveSeeds, resolveStunServers } from './seeds.js';
import type { QuickEndpoint } from '../wgquick/endpoint-text.js';

export const MESH_MTU = 1420;

interface PolicySubject {
  readonly senderHex: string;
  readonly orgHex: string | undefined;
}

function loadPolicy(configDir: string, log: (line: string) => void): ServicePolicy {
  const loaded = loadServicePolicy(configDir);
  for (const problem of loaded.problems) log(`services: ${problem}`);
  return loaded.policy;
}
export const MESH_PORT = 51821;
/** Keeps NAT mappings and sessions warm between mesh members (wg-quick's usual 25 s). */
const MESH_KEEPALIVE_SECONDS = 25;
const TICK_MS = 50;
/** How often tunnels with no session and no handshake in flight are started again. */
const STALE_TUNNEL_RETRY_MS = 15_000;

export interface MeshOptions {
  readonly configDir: string;
  readonly interfaceName?: string;
  readonly port?: number;
  readonly seeds?: readonly QuickEndpoint[];
  /** Membership only: no TUN device, no WireGuard. */
  readonly gossipOnly?: boolean;
  /** Admit every valid key (no trust anchors required). */
  readonly open?: boolean;
  /** The address peers should reach us on, when it is not the source address they see. */
  readonly advertise?: UdpEndpoint;
  /**
   * Serve /metrics, /healthz, /readyz and /v1/status on this address (`--metrics`): loopback or
   * a management address, never a public one (AgentHttpServer says why).
   */
  readonly metrics?: UdpEndpoint;
  /** More /readyz conditions than the runtime's own (readinessChecks), e.g. a certificate. */
  readonly readiness?: readonly HealthCheck[];
  /** STUN servers (`--stun`); two must agree for a NAT type. */
  readonly stunServers?: readonly QuickEndpoint[];
  readonly swimConfig?: Partial<SwimConfig>;
  /**
   * The WireGuard key pair; default: derived from the identity (spec §1.3). The in-cluster agent
   * makes a fresh one per start, which its v2 certificate binds.
   */
  readonly wireguardKey?: WireGuardKeyPair;
  readonly log?: (line: string) => void;
}

export interface PeerStatus {
  readonly pubkey: string;
  readonly meshIPv4: string;
  readonly meshIPv6: string;
  readonly state: string;
  readonly endpoint: string | null;
  readonly admittedBy: string | null;
  readonly wireguard: boolean;
  readonly lastHandshake: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly natType: string;
  /** How tunnel traffic reaches it: direct, punched, relay, connecting; null without a tunnel. */
  readonly path: PathType | null;
  /** The relay's address while the path is `relay`. */
  readonly relay: string | null;
  readonly rttMs: number | null;
}

/** A TrustAuthority whose TrustSet can be swapped when the trust files change. */
class SwappableTrust implements TrustAuthority {
  current: TrustSet;
  constructor(initial: TrustSet) {
    this.current = initial;
  }
  decide: TrustAuthority['decide'] = (q) => this.current.decide(q);
  applyRevocation: TrustAuthority['applyRevocation'] = (m) => this.current.applyRevocation(m);
  applyVouch: TrustAuthority['applyVouch'] = (m) => this.current.applyVouch(m);
  isTrustedOrg: TrustAuthority['isTrustedOrg'] = (org) => this.current.isTrustedOrg(org);
  isRevoked: TrustAuthority['isRevoked'] = (org, node) => this.current.isRevoked(org, node);
}

/**
 * `meshguard up`: identity and trust from the config dir, the mesh interface (mg0: mesh IPv4
 * /16 and IPv6 /64, MTU 1420), SWIM and WireGuard sharing UDP port 51821, membership events
 * turned into WireGuard peers, trust reloaded from disk while running, and a control socket.
 */
export class MeshRuntime {
  readonly publicKey: Uint8Array;
  readonly wgPublicKey: Uint8Array;
  readonly swim: SwimNode;
  readonly device: WireGuardDevice | null;
  readonly #tun: TunDevice | null;
  readonly #udp: NativeUdpSocket;
  readonly #sender: CoalescingSender;
  readonly #trust: SwappableTrust;
  readonly #watcher: TrustWatcher;
  readonly nat: NatTraversal;
  /** Identity (hex) → WireGuard key of every tunnel we have asked the device for. */
  readonly #tunnels = new Map<string, { readonly identity: Uint8Array; readonly wgPublicKey: Uint8Array }>();
  readonly #timer: NodeJS.Timeout;
  #nextStaleCheck = Date.now() + STALE_TUNNEL_RETRY_MS;
  readonly #log: (line: string) => void;
  #control: ControlServer | null = null;
  #metricsServer: { close(): Promise<void> } | null = null;
  #stopped = false;
  /** Datagrams dropped before any protocol saw them (plain counters: the receive path bumps them). */
  readonly #datagramDrops: Record<DatagramDropReason, number> = { invalid: 0, 'app-message': 0, 'gossip-only': 0 };
  readonly #stopListeners: Array<(reason: string) => void> = [];
  readonly #configDir: string;
  /** services/ as last loaded; reloaded with the trust files. */
  #policy: ServicePolicy;
  /** Per device peer: the keys its policy is looked up by (hex), found once, not per packet. */
  #policySubjects = new WeakMap<Peer, PolicySubject>();

  private constructor(parts: {
    publicKey: Uint8Array;
    wgPublicKey: Uint8Array;
    swim: SwimNode;
    device: WireGuardDevice | null;
    tun: TunDevice | null;
    udp: NativeUdpSocket;
    sender: CoalescingSender;
    trust: SwappableTrust;
    watcher: TrustWatcher;
    nat: NatTraversal;
    log: (line: string) => void;
    configDir: string;
    policy: ServicePolicy;
  }) {
    this.#configDir = parts.configDir;
    this.#policy = parts.policy;
    this.publicKey = parts.publicKey;
    this.wgPublicKey = parts.wgPublicKey;
    this.swim = parts.swim;
    this.device = parts.device;
    this.#tun = parts.tun;
    this.#udp = parts.udp;
    this.#sender = parts.sender;
    this.#trust = parts.trust;
    this.#watcher = parts.watcher;
    this.nat = parts.nat;
    this.#log = parts.log;
    this.#timer = setInterval(() => {
      this.device?.tick();
      this.swim.tick();
      const now = Date.now();
      this.nat.tick(now);
      if (now >= this.#nextStaleCheck) {
        this.#nextStaleCheck = now + STALE_TUNNEL_RETRY_MS;
        this.#retryStaleTunnels();
      }
    }, TICK_MS);
  }

  /**
   * A tunnel whose handshake gave up (REKEY_ATTEMPT_TIME: every attempt lost, e.g. in a burst
   * of a large join) would stay down until someone sends traffic, since the persistent
   * keepalive is armed only by authenticated packets — in a mesh nobody may. While SWIM still
   * says the member is alive, its tie-break initiator starts again.
   */
  #retryStaleTunnels(): void {
    const device = this.device;
    if (device === null) return;
    for (const t of this.#tunnels.values()) {
      const peer = device.peer(t.wgPublicKey);
      if (peer === undefined || device.peerState(peer) !== 'stale') continue;
      if (isTieBreakInitiator(this.wgPublicKey, t.wgPublicKey)) device.initiateHandshake(t.wgPublicKey);
    }
  }

  static async start(options: MeshOptions): Promise<MeshRuntime> {
    const log = options.log ?? (() => undefined);
    const now = (): bigint => BigInt(Math.floor(Date.now() / 1000));
    const identity = loadKeyPair(identityLocation(options.configDir));
    const wg = options.wireguardKey ?? deriveWireGuardKeyPair(identity.seed);
    const open = options.open ?? false;
    let runtime: MeshRuntime | null = null;
    const watcher = new TrustWatcher(options.configDir, { now, open }, (loaded) => {
      runtime?.trustReloaded(loaded);
    });
    const loaded = watcher.current;
    for (const problem of loaded.problems) log(`config: ${problem}`);
    if (open) {
      for (const line of OPEN_WARNING) log(line);
    } else if (!loaded.trust.hasTrustAnchors) {
      log('warning: no authorized keys or trusted orgs: no peer will be admitted (meshguard trust …)');
    }
    // Revocations from disk go through the SWIM node below, which applies, remembers and floods
    // them; a trust set that already held them would make the node treat them as old news.
    const trust = new SwappableTrust(withoutOrgMessages(loaded.trust));
    for (const vouch of loaded.trust.vouches) trust.current.applyVouch(vouch);
    const cert =
      loaded.nodeCertificate?.check.ok === true ? encodeNodeCertificate(loaded.nodeCertificate.certificate) : null;

    const udp = await NativeUdpSocket.bind(options.port ?? MESH_PORT);
    const sender = new CoalescingSender(udp);
    let tun: TunDevice | null = null;
    let device: WireGuardDevice | null = null;
    let nat: NatTraversal | null = null;
    try {
      if (options.gossipOnly !== true) {
        tun = TunDevice.open(options.interfaceName ?? 'mg0');
        const addresses = meshAddresses(identity.publicKey);
        device = new WireGuardDevice(
          { privateKey: wg.privateKey, mtu: MESH_MTU },
          {
            sendUdp: (packet, to) => {
              const relayed = nat?.wrapForRelay(packet, to) ?? null;
              if (relayed === null) sender.send(packet, to);
              else if (relayed.frame.length > 0) sender.send(relayed.frame, relayed.to);
            },
            writeTun: (packet) => {
              tun?.write(packet);
            },
            admitInbound: (peer, packet) => runtime?.admitInbound(peer, packet) ?? false,
          },
        );
        tun.configure({ mtu: MESH_MTU, addresses: [`${addresses.ipv4}/16`, `${addresses.ipv6}/64`], up: true });
      }
      const swim = new SwimNode({
        identity: {
          publicKey: identity.publicKey,
          wgPublicKey: device === null ? null : wg.publicKey,
          certificate: cert,
        },
        trust,
        send: (bytes, to) => {
          sender.send(bytes, to);
        },
        onEvent: (event) => {
          runtime?.onSwimEvent(event);
        },
        ...(options.advertise === undefined
          ? {}
          : { advertisedEndpoint: options.advertise, publicEndpoint: options.advertise, natType: 'public' as const }),
        ...(options.swimConfig === undefined ? {} : { config: options.swimConfig }),
      });
      const stun = await resolveStunServers(options.stunServers ?? []);
      for (const problem of stun.problems) log(`stun: ${problem}`);
      if (stun.endpoints.length === 1) log('stun: one server cannot be cross-checked; give two for a NAT type');
      const membership = new SwimMembership(swim);
      nat = new NatTraversal({
        self: identity.publicKey,
        membership,
        dataPlane: {
          peers: () => runtime?.natPeers() ?? [],
          setEndpoint: (peer, endpoint) => runtime?.setPeerEndpoint(peer, endpoint),
          deliver: (payload, virtual) => device?.handleDatagram(payload, virtual),
        },
        send: (bytes, to) => {
          sender.send(bytes, to);
        },
        random: (n) => randomBytes(n),
        log,
        stunServers: stun.endpoints,
        localAddresses,
        localPort: udp.port,
        announced: options.advertise ?? null,
      });
      runtime = new MeshRuntime({
        publicKey: identity.publicKey,
        wgPublicKey: wg.publicKey,
        swim,
        device,
        tun,
        udp,
        sender,
        trust,
        watcher,
        nat,
        log,
        configDir: options.configDir,
        policy: loadPolicy(options.configDir, log),
      });
      runtime.#wire();
      watcher.start();
      for (const revocation of loaded.trust.revocations) swim.publishOrgMessage(encodeOrgMessage(revocation));
      const fromFile = readSeedsFile(options.configDir);
      for (const problem of fromFile.problems) log(`seeds: ${problem}`);
      const { endpoints, problems } = await resolveSeeds([...(options.seeds ?? []), ...fromFile.seeds]);
      for (const problem of problems) log(`seeds: ${problem}`);
      swim.join(endpoints);
      const r = runtime;
      runtime.#control = await ControlServer.listen(options.configDir, {
        status: () => r.status(),
        peers: () => r.peers(),
        stop: () => {
          r.stop('stop requested');
        },
      });
      if (options.metrics !== undefined) {
        const http = await AgentHttpServer.start({
          host: options.metrics.address,
          port: options.metrics.port,
          registry: createMeshMetrics(r.metricsSource()),
          status: () => r.status(),
          liveness: [r.#runningCheck],
          readiness: [...r.readinessChecks(), ...(options.readiness ?? [])],
        });
        r.#metricsServer = http;
        log(`metrics: ${http.url}/metrics (also /healthz /readyz /v1/status: keep it off public addresses)`);
      }
      log(
        `up: ${encodeBase64(identity.publicKey)} ${meshAddresses(identity.publicKey).ipv4} on UDP ${udp.port}` +
          `${device === null ? ' (gossip only)' : `, interface ${tun?.name ?? ''}`}, ${endpoints.length} seed(s)`,
      );
      return runtime;
    } catch (err) {
      if (runtime !== null) runtime.stop('start failed');
      else {
        watcher.stop();
        tun?.close();
        udp.close();
      }
      throw err;
    }
  }

  #wire(): void {
    this.#udp.onDatagrams((batch) => {
      for (let i = 0; i < batch.count; i++) {
        const data = batch.datagram(i);
        switch (classifyDatagram(data)) {
          case 'wireguard':
            if (this.device === null) this.#datagramDrops['gossip-only']++;
            else this.device.handleDatagram(data, batch.endpoint(i));
            break;
          case 'swim':
            if (data[0] === TAG_HOLEPUNCH_REQUEST || data[0] === TAG_HOLEPUNCH_RESPONSE) {
              this.nat.handleHolepunch(data, batch.endpoint(i), Date.now());
            } else {
              this.swim.handleDatagram(data, batch.endpoint(i));
            }
            break;
          case 'stun':
            this.nat.handleStun(data, batch.endpoint(i), Date.now());
            break;
          case 'holepunch-probe':
            this.nat.handleProbe(data, batch.endpoint(i), Date.now());
            break;
          case 'relay':
            this.nat.handleRelayFrame(data, batch.endpoint(i), Date.now());
            break;
          case 'app':
            // App messages (0x50) are the mobile library's.
            this.#datagramDrops['app-message']++;
            break;
          default:
            this.#datagramDrops.invalid++;
            break;
        }
      }
    });
    this.#tun?.onPackets(
      (batch) => {
        for (let i = 0; i < batch.count; i++) this.device?.handleTunPacket(batch.packet(i));
      },
      (error) => {
        this.stop(`TUN device failed: ${error.message}`);
      },
    );
  }

  /** Membership events become WireGuard peers (internal; public only for the constructor's callbacks). */
  onSwimEvent(event: SwimEvent): void {
    const device = this.device;
    switch (event.type) {
      case 'wg-peer-add':
      case 'wg-peer-replace': {
        if (device === null) return;
        if (event.type === 'wg-peer-replace') device.removePeer(event.previous);
        const a = meshAddresses(event.publicKey);
        this.#tunnels.set(toHex(event.publicKey), { identity: event.publicKey, wgPublicKey: event.wgPublicKey });
        this.nat.peerAdded(event.publicKey, Date.now());
        device.addPeer({
          publicKey: event.wgPublicKey,
          endpoint: event.endpoint,
          allowedIps: [`${a.ipv4}/32`, `${a.ipv6}/128`],
          persistentKeepaliveSeconds: MESH_KEEPALIVE_SECONDS,
        });
        // Spec §2.4: the smaller WireGuard key starts the handshake, so exactly one side does.
        if (isTieBreakInitiator(this.wgPublicKey, event.wgPublicKey)) device.initiateHandshake(event.wgPublicKey);
        this.#log(`peer ${a.ipv4}: tunnel ${event.type === 'wg-peer-add' ? 'added' : 'replaced'}`);
        return;
      }
      case 'wg-peer-remove':
        device?.removePeer(event.wgPublicKey);
        this.#tunnels.delete(toHex(event.publicKey));
        this.nat.peerRemoved(event.publicKey);
        this.#log(`peer ${meshAddresses(event.publicKey).ipv4}: tunnel removed`);
        return;
      case 'member-dead':
        this.#log(`member ${event.member.meshIPv4} dead (${event.cause})`);
        return;
      case 'revocation-applied':
        this.#log(
          `revocation of ${encodeBase64(event.revocation.nodePublicKey)} applied, ${event.evicted.length} evicted`,
        );
        return;
      default:
        return;
    }
  }

  /**
   * Trust files changed: the new set is what the disk says, plus the revocations and vouches
   * learned from the network since start (they are not on disk, and must not be forgotten).
   */
  /** Re-reads the trust files now rather than at the next poll (the agent has just written them). */
  reloadTrustNow(): void {
    this.#watcher.check();
  }

  /**
   * The service policy on a decrypted inbound packet (spec §12.2: peer → org → global → default,
   * ICMP passes, malformed is denied). Without services/ nothing is looked up at all; otherwise
   * the sender's identity and certificate org are found once per peer.
   */
  admitInbound(peer: Peer, packet: Uint8Array): boolean {
    const policy = this.#policy;
    if (policy.kind === 'none') return true;
    let subject = this.#policySubjects.get(peer);
    if (subject === undefined) {
      subject = this.#policySubject(peer.remote.publicKey);
      this.#policySubjects.set(peer, subject);
    }
    // A peer we cannot name (a tunnel being torn down) gets no peer or org rule: global, default.
    return evaluatePolicyByHex(policy, packet, subject.senderHex, subject.orgHex).action === 'allow';
  }

  #policySubject(wgPublicKey: Uint8Array): PolicySubject {
    for (const t of this.#tunnels.values()) {
      if (!bytesEqual(t.wgPublicKey, wgPublicKey)) continue;
      const org = this.swim.member(t.identity)?.certificateOrg ?? null;
      return { senderHex: toHex(t.identity), orgHex: org === null ? undefined : toHex(org) };
    }
    return { senderHex: '', orgHex: undefined };
  }

  /** Replaces the seed list (the in-cluster agent learns seeds from the API as nodes come). */
  setSeeds(seeds: readonly UdpEndpoint[]): void {
    this.swim.join(seeds);
  }

  trustReloaded(loaded: LoadedTrust): void {
    const current = this.#trust.current;
    for (const problem of loaded.problems) this.#log(`config: ${problem}`);
    // A new revocation file: applied and flooded to the mesh now, like one received by gossip.
    for (const r of loaded.trust.revocations) {
      if (!current.revocations.some((p) => bytesEqual(p.signature, r.signature))) {
        this.swim.publishOrgMessage(encodeOrgMessage(r));
      }
    }
    // The new set is what the disk says, plus everything learned from the network since start.
    const next = withoutOrgMessages(loaded.trust);
    for (const r of current.revocations) next.applyRevocation(r);
    for (const v of [...current.vouches, ...loaded.trust.vouches]) next.applyVouch(v);
    this.#trust.current = next;
    this.swim.trustChanged();
    this.#policy = loadPolicy(this.#configDir, this.#log);
    this.#policySubjects = new WeakMap();
    this.#log('trust reloaded');
  }

  status(): unknown {
    const members = this.swim.members();
    const count = (state: string): number => members.filter((m) => m.state === state).length;
    const a = meshAddresses(this.publicKey);
    return {
      running: true,
      pubkey: toHex(this.publicKey),
      mesh_ip: a.ipv4,
      mesh_ipv6: a.ipv6,
      public_key: encodeBase64(this.publicKey),
      wireguard_public_key: this.device === null ? null : encodeBase64(this.wgPublicKey),
      port: this.#udp.port,
      mode: this.device === null ? 'gossip-only' : 'userspace',
      nat: this.natStatus(),
      swim: this.#swimStatus(),
      trust: trustMode(this.#trust.current),
      peers: { alive: count('alive'), suspected: count('suspect'), dead: count('dead') },
      members: this.peers(),
    };
  }

  peers(): PeerStatus[] {
    const now = Date.now();
    return this.swim.members().map((m) => {
      const wgPeer = m.wgPublicKey === null ? undefined : this.device?.peer(m.wgPublicKey);
      const relay = wgPeer === undefined ? null : this.nat.relayOf(m.publicKey);
      return {
        pubkey: toHex(m.publicKey),
        meshIPv4: m.meshIPv4,
        meshIPv6: m.meshIPv6,
        state: m.state,
        endpoint: m.endpoint === null ? null : formatUdpEndpoint(m.endpoint),
        admittedBy: m.admittedBy,
        wireguard: wgPeer !== undefined,
        lastHandshake:
          wgPeer === undefined || wgPeer.stats.lastHandshakeWallMs === 0 ? null : wgPeer.stats.lastHandshakeWallMs,
        rxBytes: wgPeer?.stats.rxBytes ?? 0,
        txBytes: wgPeer?.stats.txBytes ?? 0,
        natType: m.natType,
        path:
          wgPeer === undefined
            ? null
            : this.nat.pathOf(natPeer(m.publicKey, wgPeer.stats.lastHandshakeWallMs, wgPeer.endpoint), now),
        relay: relay === null ? null : formatUdpEndpoint(relay),
        rttMs: m.rttMs === null ? null : Math.round(m.rttMs * 10) / 10,
      };
    });
  }

  /** Read at every scrape (internal; public for start()). */
  metricsSource(): MeshMetricsSource {
    return {
      memberStates: () => {
        const counts: Record<string, number> = {};
        for (const m of this.swim.members()) counts[m.state] = (counts[m.state] ?? 0) + 1;
        return counts;
      },
      peerPaths: () => {
        const counts: Record<PathType, number> = { direct: 0, punched: 0, relay: 0, connecting: 0 };
        const now = Date.now();
        for (const peer of this.natPeers()) counts[this.nat.pathOf(peer, now)]++;
        return counts;
      },
      natType: () => this.nat.natType,
      punch: () => this.nat.status().punch,
      relay: () => this.nat.status().relay,
      wireguard: () => this.device,
      swim: () => this.swim.stats(),
      udp: () => ({ socket: this.#udp.counters(), dropped: this.#datagramDrops }),
      tun: () => this.#tun?.counters() ?? null,
    };
  }

  /** Liveness of the runtime itself: false once it stops (the process is about to end). */
  readonly #runningCheck: HealthCheck = {
    name: 'running',
    check: () => (this.#stopped ? 'stopping' : undefined),
  };

  /**
   * What /readyz asks of the runtime: running, the UDP socket open, the mesh interface up with
   * its address (not in gossip-only mode), and trust anchors to admit anyone by. A caller adds
   * its own conditions (MeshOptions.readiness), e.g. the in-cluster agent's certificate.
   */
  readinessChecks(): HealthCheck[] {
    const checks: HealthCheck[] = [
      this.#runningCheck,
      { name: 'udp', check: () => (this.#udp.closed ? `UDP socket on port ${this.#udp.port} closed` : undefined) },
      {
        name: 'trust',
        check: () =>
          trustMode(this.#trust.current) === 'no-anchors'
            ? 'no authorized keys or trusted orgs: no peer can be admitted'
            : undefined,
      },
    ];
    const tun = this.#tun;
    if (tun !== null) {
      const ipv4 = meshAddresses(this.publicKey).ipv4;
      checks.push({
        name: 'tun',
        check: () => {
          if (tun.closed) return `${tun.name} closed`;
          // libuv lists only interfaces that are up and running, with their addresses.
          const up = networkInterfaces()[tun.name]?.some((a) => a.address === ipv4) ?? false;
          return up ? undefined : `${tun.name} is down or lacks ${ipv4}`;
        },
      });
    }
    return checks;
  }

  /** Table sizes and protocol counters (all plain numbers: the status is JSON). */
  #swimStatus(): unknown {
    const s = this.swim.stats();
    return {
      members: s.members,
      live_members: s.liveMembers,
      quarantine: s.quarantine,
      relays: s.relays,
      incarnation: s.incarnation.toString(),
      counters: s.counters,
    };
  }

  /** NAT type, public endpoint, why, and the punch/relay counters, for `status`. */
  natStatus(): unknown {
    const n = this.nat.status();
    return {
      type: n.natType,
      public_endpoint: n.publicEndpoint === null ? null : formatUdpEndpoint(n.publicEndpoint),
      reason: n.reason,
      stun_problems: n.stunProblems,
      punch: n.punch,
      relay: n.relay,
    };
  }

  /** Every tunnel as NAT traversal sees it (internal; public for the data-plane adapter). */
  natPeers(): NatPeer[] {
    const out: NatPeer[] = [];
    for (const t of this.#tunnels.values()) {
      const peer = this.device?.peer(t.wgPublicKey);
      if (peer !== undefined) out.push(natPeer(t.identity, peer.stats.lastHandshakeWallMs, peer.endpoint));
    }
    return out;
  }

  /** Moves a tunnel to another path and starts a handshake there (internal). */
  setPeerEndpoint(identity: Uint8Array, endpoint: UdpEndpoint): void {
    const t = this.#tunnels.get(toHex(identity));
    if (t === undefined || this.device === null) return;
    this.device.addPeer({ publicKey: t.wgPublicKey, endpoint });
    this.device.initiateHandshake(t.wgPublicKey);
  }

  onStop(listener: (reason: string) => void): void {
    this.#stopListeners.push(listener);
  }

  /** Graceful: announces the leave, then closes everything (the TUN close removes mg0). */
  stop(reason: string): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.swim.leave();
    for (let i = 0; i < 20; i++) this.swim.tick(); // let the leave go out through the limiter
    this.#sender.flush();
    clearInterval(this.#timer);
    this.#watcher.stop();
    this.#control?.close();
    void this.#metricsServer?.close();
    this.#udp.close();
    this.#tun?.close();
    if (this.device !== null)
      for (const peer of [...this.device.peers()]) this.device.removePeer(peer.remote.publicKey);
    this.#log(`down (${reason})`);
    for (const listener of this.#stopListeners) listener(reason);
  }
}

/**
 * Printed at start-up and repeated by `meshguard status`: --open turns the admission gate off,
 * and anyone who can reach UDP 51821 gets a tunnel into this host's mg0.
 */
export const OPEN_WARNING: readonly string[] = [
  'WARNING: ****************************************************************',
  'WARNING: --open: TRUST CHECKS ARE OFF. Any node that reaches this port is',
  'WARNING: admitted to the mesh and gets a WireGuard tunnel into this host.',
  'WARNING: Use only on an isolated test network; never on the internet.',
  'WARNING: ****************************************************************',
];

/** How the admission gate decides, for `status`: open, enforcing anchors, or closed to all. */
export function trustMode(trust: TrustSet): 'open' | 'enforced' | 'no-anchors' {
  if (trust.open) return 'open';
  return trust.hasTrustAnchors ? 'enforced' : 'no-anchors';
}

/** The same anchors (self, keys, orgs, open), without revocations and vouches. */
function withoutOrgMessages(trust: TrustSet): TrustSet {
  return new TrustSet({
    ...(trust.self === undefined ? {} : { self: trust.self }),
    authorizedKeys: trust.authorizedKeys,
    trustedOrgs: trust.trustedOrgs,
    open: trust.open,
  });
}

function natPeer(identity: Uint8Array, lastHandshakeWallMs: number, endpoint: UdpEndpoint | null): NatPeer {
  return { publicKey: identity, lastHandshakeAt: lastHandshakeWallMs === 0 ? null : lastHandshakeWallMs, endpoint };
}

/** Our interfaces' IPv4 addresses, to tell a public address (ours) from a NAT's. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
}

/**
 * SWIM membership as NAT traversal needs it. Members are looked up by address for every relay
 * frame, so the address index is rebuilt at most every 250 ms rather than per datagram.
 */
class SwimMembership implements NatMembership {
  readonly #swim: SwimNode;
  #byAddress = new Map<string, NatMember>();
  #indexedAt = -Infinity;

  constructor(swim: SwimNode) {
    this.#swim = swim;
  }

  member(publicKey: Uint8Array): NatMember | null {
    const m = this.#swim.member(publicKey);
    return m === undefined ? null : natMember(m);
  }

  memberAt(from: UdpEndpoint): NatMember | null {
    const now = performance.now();
    if (now - this.#indexedAt >= 250) {
      this.#byAddress = new Map();
      for (const m of this.liveMembers())
        if (m.endpoint !== null) this.#byAddress.set(formatUdpEndpoint(m.endpoint), m);
      this.#indexedAt = now;
    }
    return this.#byAddress.get(formatUdpEndpoint(from)) ?? null;
  }

  liveMembers(): NatMember[] {
    return this.#swim
      .members()
      .map(natMember)
      .filter((m) => m.live);
  }

  advertise(publicEndpoint: UdpEndpoint | null, natType: NatMember['natType']): void {
    this.#swim.advertiseNat(publicEndpoint, natType);
  }

  requestIntroduction(publicKey: Uint8Array, via: UdpEndpoint): void {
    this.#swim.requestIntroduction(publicKey, via);
  }
}

function natMember(m: MemberSnapshot): NatMember {
  return {
    publicKey: m.publicKey,
    endpoint: m.endpoint,
    live: m.state === 'alive' || m.state === 'suspect',
    natType: m.natType,
    rttMs: m.rttMs,
  };
}

function formatUdpEndpoint(e: UdpEndpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
