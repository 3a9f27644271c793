import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { meshAddresses, decodePublicKeyText } from '@meshguard/core';
import { Topology, type Namespace, type SpawnedProcess } from './netns.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ATTACKER = fileURLToPath(new URL('./swim-attacker.js', import.meta.url));

export interface LabNode {
  readonly name: string;
  readonly ns: Namespace;
  readonly configDir: string;
  readonly lanAddress: string;
  readonly publicKey: string;
  readonly meshIPv4: string;
  daemon: SpawnedProcess | null;
}

/**
 * A small mesh on one host for the demo and the end-to-end tests: an org, N network namespaces
 * on one LAN (a bridge in a hub namespace), each with its own config dir, identity and
 * org-signed v2 certificate, running `meshguard up`.
 */
export class MeshLab {
  readonly topology = new Topology();
  readonly hub: Namespace;
  readonly adminDir: string;
  readonly nodes: LabNode[] = [];
  readonly #root: string;
  readonly #subnet: number;

  constructor(subnet = 220) {
    this.#subnet = subnet;
    this.#root = this.topology.tempDir();
    this.hub = this.topology.namespace('hub');
    this.topology.ipIn(this.hub, ['link', 'add', 'br0', 'type', 'bridge']);
    this.topology.ipIn(this.hub, ['link', 'set', 'br0', 'up']);
    this.adminDir = join(this.#root, 'admin');
    this.cli(this.adminDir, ['org-keygen']);
  }

  /** Runs the meshguard CLI (outside any namespace) for one config dir; returns stdout. */
  cli(configDir: string, args: readonly string[]): string {
    const r = spawnSync(process.execPath, [MAIN, ...args], {
      env: { ...process.env, MESHGUARD_CONFIG_DIR: configDir },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`meshguard ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  get orgPublicKey(): string {
    return readFileSync(join(this.adminDir, 'org', 'org.pub'), 'latin1').trim();
  }

  /** `192.168.<subnet>.<host>`: an address on the lab's LAN. */
  lanIp(host: number): string {
    return `192.168.${this.#subnet}.${host}`;
  }

  /** Plugs `ns` into the LAN with the given addresses (the first is the one returned). */
  attach(ns: Namespace, hosts: readonly number[]): { readonly ifname: string; readonly address: string } {
    const pair = this.topology.veth(ns, this.hub);
    for (const host of hosts) this.topology.addAddress(ns, pair.a.ifname, `${this.lanIp(host)}/24`);
    this.topology.ipIn(this.hub, ['link', 'set', pair.b.ifname, 'master', 'br0']);
    return { ifname: pair.a.ifname, address: this.lanIp(hosts[0]!) };
  }

  /** A host on the LAN with no meshguard on it (for the attacker in the tests). */
  addHost(label: string, host = 200): { readonly ns: Namespace; readonly lanAddress: string } {
    const ns = this.topology.namespace(label);
    return { ns, lanAddress: this.attach(ns, [host]).address };
  }

  /** Runs `swim-attacker.js <args>` in `ns`; returns how many datagrams it sent. */
  attack(ns: Namespace, args: readonly string[]): number {
    return Number(this.topology.exec(ns, [process.execPath, ATTACKER, ...args], { timeoutMs: 120_000 }).trim());
  }

  /**
   * A node with its own namespace and identity, trusting the org and holding a certificate:
   * v2 (binding its WireGuard key) by default, v1 (no WireGuard key: for gossip-only nodes,
   * which have no tunnel to bind), or none at all (unenrolled, trusting nobody). By default
   * the node sits on the LAN; `site` places it elsewhere (behind a NAT) and returns its address.
   */
  addNode(
    options: {
      readonly certificate?: 'v2' | 'v1' | 'none';
      readonly site?: (ns: Namespace, index: number) => string;
    } = {},
  ): LabNode {
    const index = this.nodes.length + 1;
    const name = `node-${index}`;
    const ns = this.topology.namespace(`n${index}`);
    const lanAddress = options.site?.(ns, index) ?? this.attach(ns, [index]).address;
    const configDir = join(this.#root, name);
    this.cli(configDir, ['keygen']);
    const publicKey = this.cli(configDir, ['export']).trim();
    const certificate = options.certificate ?? 'v2';
    if (certificate !== 'none') {
      const wg = this.cli(configDir, ['export', '--wireguard']).trim();
      const certPath = join(this.#root, `${name}.cert`);
      const bind = certificate === 'v2' ? ['--wg-pubkey', wg] : [];
      this.cli(this.adminDir, ['org-sign', publicKey, '--name', name, ...bind, '--out', certPath]);
      this.cli(configDir, ['trust', this.orgPublicKey, '--org']);
      this.cli(configDir, ['cert', 'install', certPath]);
    }
    const node: LabNode = {
      name,
      ns,
      configDir,
      lanAddress,
      publicKey,
      meshIPv4: meshAddresses(decodePublicKeyText(publicKey)).ipv4,
      daemon: null,
    };
    this.nodes.push(node);
    return node;
  }

  env(node: LabNode): Record<string, string> {
    return { MESHGUARD_CONFIG_DIR: node.configDir, MESHGUARD_CONTROL_SOCKET: join(node.configDir, 'control.sock') };
  }

  start(node: LabNode, seeds: readonly LabNode[], extra: readonly string[] = []): void {
    const seedArgs = seeds.flatMap((s) => ['--seed', `${s.lanAddress}:51821`]);
    node.daemon = this.topology.spawn(node.ns, [process.execPath, MAIN, 'up', ...seedArgs, ...extra], {
      env: this.env(node),
    });
  }

  /** `meshguard <args>` against a node's running daemon. */
  control(node: LabNode, args: readonly string[]): string {
    return this.controlWithStderr(node, args).stdout;
  }

  /** Like `control`, keeping stderr too (where warnings go). */
  controlWithStderr(node: LabNode, args: readonly string[]): { stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [MAIN, ...args], {
      env: { ...process.env, ...this.env(node) },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`meshguard ${args.join(' ')} on ${node.name}: ${r.stderr.trim()}`);
    return { stdout: r.stdout, stderr: r.stderr };
  }

  canPing(from: LabNode, to: LabNode): boolean {
    return this.topology.tryExec(from.ns, ['ping', '-c', '1', '-W', '1', to.meshIPv4]).status === 0;
  }

  /** Signs a revocation of `target` with the org key and drops it into `at`'s revoked/ directory. */
  revoke(target: LabNode, at: LabNode): void {
    this.cli(this.adminDir, ['org-revoke', target.publicKey, '--reason', 'admin-removed']);
    const dir = join(this.adminDir, 'revoked');
    mkdirSync(join(at.configDir, 'revoked'), { recursive: true });
    for (const file of readdirSync(dir)) copyFileSync(join(dir, file), join(at.configDir, 'revoked', file));
  }

  destroy(): Promise<void> {
    return this.topology.destroy();
  }
}
