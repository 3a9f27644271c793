import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bytesEqual,
  ConfigPaths,
  createKeyPair,
  decodeBase64Exact,
  decodePublicKeyText,
  deriveWireGuardKeyPair,
  encodeBase64,
  errorMessage,
  identityLocation,
  loadKeyPair,
  wireGuardKeyPairFromPrivate,
  writeFileAtomic,
  writeFilesAtomic,
  type Ed25519KeyPair,
  type WireGuardKeyPair,
} from '@meshguard/core';
import {
  APPLY_PATCH,
  asCachedKubeObject,
  configMapResource,
  Informer,
  KubeListWatcher,
  meshResourcePath,
  MESH_NODE_NAMES,
  MESHGUARD_API_VERSION,
  ORG_LABEL,
  TRUSTED_ORGS_DIR,
  trustedOrgFileName,
  type KubeClient,
  type MeshNode,
  type ResourceRef,
} from '@meshguard/core/kube';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { MeshRuntime } from '../daemon/mesh-runtime.js';
import { AgentHttpServer, type HealthCheck } from '../http/agent-http-server.js';
import { registerMeshMetrics } from '../metrics/mesh-metrics.js';
import { endpointKey, type UdpEndpoint } from '../wireguard/endpoint.js';
import type { QuickEndpoint } from '../wgquick/endpoint-text.js';
import { acceptCertificate, AGENT_FIELD_MANAGER, ownMeshNodeApply, type AgentKeys } from './own-mesh-node.js';
import { sameSeeds, seedsFromMeshNodes } from './seed-list.js';
import { syncServicePolicy } from './service-policy-files.js';
import { StatusReporter } from './status-reporter.js';
import { syncTrustFiles, trustFilesOf, type TrustConfigMap } from './trust-files.js';

const meshNodeResource: ResourceRef = {
  apiVersion: MESHGUARD_API_VERSION,
  kind: 'MeshNode',
  plural: MESH_NODE_NAMES.plural,
  namespaced: false,
};

/** The WireGuard key of the certificate in node.cert, kept only for a restart without the API. */
const CACHED_WIREGUARD_KEY = 'wireguard.key';

export interface KubeAgentOptions {
  readonly client: KubeClient;
  /** This cluster Node's name: the MeshNode's name and spec.nodeName. */
  readonly nodeName: string;
  readonly org: string;
  /** Where the operator publishes the trust ConfigMaps. */
  readonly namespace: string;
  /** Identity, certificate and trust cache (a hostPath in the DaemonSet). */
  readonly stateDir: string;
  readonly port: number;
  readonly interfaceName?: string;
  /** Reported in status.endpoint and announced to peers. */
  readonly advertise: UdpEndpoint;
  readonly http?: UdpEndpoint;
  readonly stunServers?: readonly QuickEndpoint[];
  /** How long to wait for the API at start before running from the on-disk cache. */
  readonly apiGraceMs?: number;
  readonly reportIntervalMs?: number;
  readonly log: (line: string) => void;
}

type Phase = 'enrolling' | 'running' | 'revoked' | 'stopped';

/**
 * `meshguard agent`: the in-cluster node. Enrolls by applying its own MeshNode with a fresh
 * WireGuard key, waits for the operator's v2 certificate, mirrors its org's trust ConfigMaps
 * into the state dir, seeds SWIM from the other MeshNodes' endpoints, and runs the same data
 * plane as `meshguard up` on it. Level-triggered: every informer event re-derives what should
 * run from the caches, so a missed or repeated event changes nothing.
 */
export class KubeAgent {
  readonly #o: KubeAgentOptions;
  readonly #identity: Ed25519KeyPair;
  #wireguard: WireGuardKeyPair;
  readonly #nodes: Informer<MeshNode>;
  readonly #trust: Informer<TrustConfigMap>;
  readonly #reporter: StatusReporter;
  #http: AgentHttpServer | null = null;
  #runtime: MeshRuntime | null = null;
  #runningCertificate: Uint8Array | null = null;
  #phase: Phase = 'enrolling';
  #waitingFor = 'starting';
  #seeds: UdpEndpoint[] = [];
  #enrolled = false;
  #enrollTimer: NodeJS.Timeout | undefined;
  #enrollFailures = 0;
  #enrollInFlight = false;
  #enrollAgain = false;
  #busy: Promise<void> = Promise.resolve();
  #refreshQueued = false;
  /** The trust ConfigMaps changed since the files were last compared with them. */
  #trustStale = true;
  /** #orgPublicKey's last read; null until read, or after the trust files changed. */
  #orgKey: { readonly key: Uint8Array | undefined } | null = null;
  #stopListeners: (() => void)[] = [];

  private constructor(options: KubeAgentOptions, identity: Ed25519KeyPair, wireguard: WireGuardKeyPair) {
    this.#o = options;
    this.#identity = identity;
    this.#wireguard = wireguard;
    const onError = (name: string) => (err: unknown, during: string) => {
      options.log(`${name} ${during}: ${errorMessage(err)}`);
    };
    this.#nodes = new Informer<MeshNode>({
      name: 'meshnodes',
      listWatcher: new KubeListWatcher<MeshNode>(options.client, meshNodeResource, {
        decode: (value, what) => asCachedKubeObject(value, what) as MeshNode,
      }),
      onError: onError('meshnodes'),
      maxBackoffMs: 10_000,
    });
    this.#trust = new Informer<TrustConfigMap>({
      name: 'trust-configmaps',
      listWatcher: new KubeListWatcher<TrustConfigMap>(options.client, configMapResource, {
        namespace: options.namespace,
        labelSelector: `${ORG_LABEL}=${options.org}`,
      }),
      onError: onError('trust configmaps'),
      maxBackoffMs: 10_000,
    });
    this.#reporter = new StatusReporter({
      client: options.client,
      nodeName: options.nodeName,
      endpoint: () => (this.#phase === 'running' ? endpointKey(options.advertise) : null),
      ...(options.reportIntervalMs !== undefined && { intervalMs: options.reportIntervalMs }),
      log: options.log,
    });
  }

  static async start(options: KubeAgentOptions): Promise<KubeAgent> {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    const location = identityLocation(options.stateDir);
    const identity = existsSync(location.secretPath)
      ? loadKeyPair(location)
      : createKeyPair(location, { force: false });
    // Fresh per start: the private key lives in memory, and on disk only next to the
    // certificate that binds it (for a restart while the API is down).
    const agent = new KubeAgent(options, identity, deriveWireGuardKeyPair(randomBytes(32)));
    await agent.#begin();
    return agent;
  }

  get phase(): Phase {
    return this.#phase;
  }

  get runtime(): MeshRuntime | null {
    return this.#runtime;
  }

  get keys(): AgentKeys {
    return { publicKey: this.#identity.publicKey, wgPublicKey: this.#wireguard.publicKey };
  }

  onStop(listener: () => void): void {
    this.#stopListeners.push(listener);
  }

  async #begin(): Promise<void> {
    const log = this.#o.log;
    log(
      `agent: node ${this.#o.nodeName}, org ${this.#o.org}, identity ${encodeBase64(this.#identity.publicKey)}, ` +
        `state ${this.#o.stateDir}`,
    );
    if (this.#o.http !== undefined) {
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      registerMeshMetrics(registry, () => this.#runtime?.metricsSource() ?? null);
      this.#http = await AgentHttpServer.start({
        host: this.#o.http.address,
        port: this.#o.http.port,
        registry,
        status: () => this.#runtime?.status() ?? { running: false, phase: this.#phase, waiting_for: this.#waitingFor },
        readiness: this.#readinessChecks(),
      });
      log(`agent: http ${this.#http.url} (/metrics /healthz /readyz /v1/status)`);
    }
    const refresh = (): void => {
      this.#refresh();
    };
    // MeshNode events (every agent's heartbeat among them) are far more frequent than trust
    // changes: only the latter make a pass compare the trust files on disk again.
    const trustChanged = (): void => {
      this.#trustStale = true;
      this.#refresh();
    };
    this.#nodes.addHandlers({ add: refresh, update: refresh, delete: refresh });
    this.#trust.addHandlers({ add: trustChanged, update: trustChanged, delete: trustChanged });
    this.#nodes.start();
    this.#trust.start();
    this.#enroll();
    this.#reporter.start();

    // Without the API at start, run from the cache if the last certificate is still good.
    const grace = new AbortController();
    const timer = setTimeout(() => {
      grace.abort();
    }, this.#o.apiGraceMs ?? 15_000);
    const synced = await Promise.all([this.#nodes.waitForSync(grace.signal), this.#trust.waitForSync(grace.signal)]);
    clearTimeout(timer);
    if (!synced.every(Boolean) && this.#phase === 'enrolling') await this.#startFromCache();
  }

  #readinessChecks(): HealthCheck[] {
    return [
      {
        name: 'certificate',
        check: () => (this.#phase === 'running' ? undefined : `${this.#phase}: ${this.#waitingFor}`),
      },
      {
        name: 'mesh',
        check: () => {
          const runtime = this.#runtime;
          if (runtime === null) return 'mesh not started';
          for (const c of runtime.readinessChecks()) {
            const problem = c.check();
            if (problem !== undefined) return `${c.name}: ${problem}`;
          }
          return undefined;
        },
      },
    ];
  }

  /**
   * Server-side apply of our MeshNode, retried with backoff until it lands. One request at a
   * time: a call while one is in flight (the keys changed meanwhile) runs again when it ends,
   * with the keys of that moment.
   */
  #enroll(): void {
    if (this.#phase === 'stopped') return;
    if (this.#enrollInFlight) {
      this.#enrollAgain = true;
      return;
    }
    clearTimeout(this.#enrollTimer);
    this.#enrollInFlight = true;
    const body = ownMeshNodeApply(this.#o.nodeName, this.#o.org, this.keys);
    this.#o.client
      .request('PATCH', meshResourcePath(MESH_NODE_NAMES, this.#o.nodeName), {
        query: { fieldManager: AGENT_FIELD_MANAGER, force: true },
        body,
        contentType: APPLY_PATCH,
      })
      .finally(() => {
        this.#enrollInFlight = false;
      })
      .then(
        () => {
          if (this.#enrollAgain) {
            this.#enrollAgain = false;
            this.#enroll();
            return;
          }
          this.#enrolled = true;
          this.#enrollFailures = 0;
          this.#o.log(
            `agent: applied MeshNode ${this.#o.nodeName} (WireGuard key ${encodeBase64(this.#wireguard.publicKey)})`,
          );
          this.#refresh();
        },
        (err: unknown) => {
          if (this.#enrollAgain) {
            this.#enrollAgain = false;
            this.#enroll();
            return;
          }
          this.#enrollFailures++;
          const delay = Math.min(30_000, 500 * 2 ** Math.min(this.#enrollFailures, 6));
          this.#waitingFor = `enrollment failed: ${errorMessage(err)}`;
          this.#o.log(`agent: ${this.#waitingFor} (retry in ${String(delay)} ms)`);
          this.#enrollTimer = setTimeout(() => {
            this.#enroll();
          }, delay);
        },
      );
  }

  /**
   * One pass over the caches; serialized, since starting the mesh is asynchronous, and
   * coalesced: the first list of a large cluster is thousands of events, one pass covers them.
   */
  #refresh(): void {
    if (this.#refreshQueued) return;
    this.#refreshQueued = true;
    this.#busy = this.#busy
      .then(() => {
        this.#refreshQueued = false;
        return this.#reconcile();
      })
      .catch((err: unknown) => {
        this.#o.log(`agent: ${errorMessage(err)}`);
      });
  }

  async #reconcile(): Promise<void> {
    if (this.#phase === 'stopped') return;
    const dir = this.#o.stateDir;
    if (this.#trustStale && this.#trust.hasSynced()) {
      const { files, problems } = trustFilesOf(this.#o.org, this.#trust.list());
      for (const p of problems) this.#o.log(`trust: ${p}`);
      const { changed } = syncTrustFiles(dir, this.#o.org, files);
      this.#trustStale = false;
      if (changed > 0) {
        this.#o.log(`trust: ${String(changed)} file(s) updated from the API`);
        this.#orgKey = null;
        this.#runtime?.reloadTrustNow();
      }
    }
    if (!this.#nodes.hasSynced()) return;

    const own = this.#nodes.get(this.#o.nodeName);
    if (own !== undefined && syncServicePolicy(dir, own.spec.servicePolicy)) {
      this.#o.log('services: policy updated from the MeshNode');
      this.#runtime?.reloadTrustNow();
    }
    const verdict = acceptCertificate(own, this.keys, this.#orgPublicKey(), nowSeconds());
    if (verdict.kind === 'revoked') {
      if (this.#phase !== 'revoked') {
        this.#o.log(`agent: this node is revoked (${verdict.reason}); mesh stopped`);
        this.#phase = 'revoked';
        this.#waitingFor = verdict.reason;
        this.#stopRuntime('revoked');
      }
      return;
    }
    if (this.#phase === 'revoked') this.#phase = 'enrolling';
    if (this.#enrolled && own !== undefined && !this.#specIsOurs(own)) {
      // Someone (a restore, a stale apply) put other keys in our spec: apply ours again.
      this.#enrolled = false;
      this.#enroll();
    }
    if (verdict.kind === 'waiting') {
      this.#waitingFor = verdict.reason;
    } else if (this.#runningCertificate === null || !bytesEqual(this.#runningCertificate, verdict.bytes)) {
      await this.#run(verdict.bytes, this.#runningCertificate === null ? 'certificate issued' : 'certificate renewed');
    }

    const seeds = seedsFromMeshNodes(this.#nodes.list(), this.#o.org, this.#identity.publicKey);
    if (!sameSeeds(seeds, this.#seeds)) {
      this.#seeds = seeds;
      // Also the cache: a restart without the API joins through the peers it knew last.
      writeFileAtomic(
        join(dir, ConfigPaths.seeds),
        ['# written by meshguard agent from the other MeshNodes of the org', ...seeds.map(endpointKey), ''].join('\n'),
        { mode: 0o600 },
      );
      this.#runtime?.setSeeds(seeds);
    }
  }

  #specIsOurs(node: MeshNode): boolean {
    try {
      return (
        bytesEqual(decodeBase64Exact(node.spec.publicKey, 32, 'spec.publicKey'), this.#identity.publicKey) &&
        node.spec.wireguardPublicKey !== undefined &&
        bytesEqual(
          decodeBase64Exact(node.spec.wireguardPublicKey, 32, 'spec.wireguardPublicKey'),
          this.#wireguard.publicKey,
        )
      );
    } catch {
      return false;
    }
  }

  /** The org key as the state dir's trusted_orgs/ holds it; read again only after a trust sync changed files. */
  #orgPublicKey(): Uint8Array | undefined {
    if (this.#orgKey === null) {
      let key: Uint8Array | undefined;
      try {
        const text = readFileSync(join(this.#o.stateDir, TRUSTED_ORGS_DIR, trustedOrgFileName(this.#o.org)), 'utf8');
        key = decodePublicKeyText(text, `${TRUSTED_ORGS_DIR}/${trustedOrgFileName(this.#o.org)}`);
      } catch {
        key = undefined;
      }
      this.#orgKey = { key };
    }
    return this.#orgKey.key;
  }

  /** Writes the certificate (and its key, for the cache) and (re)starts the mesh with it. */
  async #run(certificate: Uint8Array, why: string): Promise<void> {
    writeFilesAtomic([
      {
        path: join(this.#o.stateDir, CACHED_WIREGUARD_KEY),
        data: `${encodeBase64(this.#wireguard.privateKey)}\n`,
        options: { mode: 0o600 },
      },
      { path: join(this.#o.stateDir, ConfigPaths.nodeCert), data: certificate, options: { mode: 0o600 } },
    ]);
    this.#stopRuntime(why);
    this.#o.log(`agent: ${why}; starting the mesh`);
    const runtime = await MeshRuntime.start({
      configDir: this.#o.stateDir,
      port: this.#o.port,
      ...(this.#o.interfaceName !== undefined && { interfaceName: this.#o.interfaceName }),
      advertise: this.#o.advertise,
      wireguardKey: this.#wireguard,
      seeds: [],
      ...(this.#o.stunServers !== undefined && { stunServers: this.#o.stunServers }),
      log: this.#o.log,
    });
    this.#runtime = runtime;
    this.#runningCertificate = certificate;
    this.#phase = 'running';
    this.#waitingFor = 'nothing';
    runtime.onStop((reason) => {
      if (this.#runtime !== runtime) return;
      // The runtime stopped by itself (`meshguard down` on its control socket): so does the agent.
      this.#runtime = null;
      this.#o.log(`agent: mesh stopped (${reason})`);
      this.stop();
    });
    this.#reporter.nudge();
  }

  /** Restart without the API: the cached certificate and the WireGuard key it binds. */
  async #startFromCache(): Promise<void> {
    const dir = this.#o.stateDir;
    try {
      const key = decodeBase64Exact(
        readFileSync(join(dir, CACHED_WIREGUARD_KEY), 'utf8').trim(),
        32,
        CACHED_WIREGUARD_KEY,
      );
      const cached = wireGuardKeyPairFromPrivate(key);
      const certificate = readFileSync(join(dir, ConfigPaths.nodeCert));
      const previous = this.#wireguard;
      this.#wireguard = cached;
      const verdict = acceptCertificate(
        {
          apiVersion: MESHGUARD_API_VERSION,
          kind: 'MeshNode',
          metadata: { name: this.#o.nodeName },
          spec: { org: this.#o.org, publicKey: encodeBase64(this.#identity.publicKey) },
          status: { certificate: encodeBase64(certificate) },
        },
        this.keys,
        this.#orgPublicKey(),
        nowSeconds(),
      );
      if (verdict.kind !== 'ok') {
        this.#wireguard = previous;
        this.#o.log(
          `agent: API unreachable and no usable cached certificate (${verdict.kind === 'waiting' ? verdict.reason : 'revoked'})`,
        );
        return;
      }
      this.#o.log('agent: API unreachable; running from the cached certificate and trust');
      // Any enrollment so far carried the fresh key; the API gets the cached one instead.
      this.#enrollFailures = 0;
      this.#enroll();
      this.#busy = this.#busy.then(() => this.#run(verdict.bytes, 'cached certificate'));
      await this.#busy;
    } catch (err) {
      this.#o.log(`agent: API unreachable and no usable cache: ${errorMessage(err)}`);
    }
  }

  #stopRuntime(why: string): void {
    const runtime = this.#runtime;
    this.#runtime = null;
    this.#runningCertificate = null;
    runtime?.stop(why);
  }

  stop(): void {
    if (this.#phase === 'stopped') return;
    this.#phase = 'stopped';
    clearTimeout(this.#enrollTimer);
    this.#reporter.stop();
    this.#stopRuntime('agent stopping');
    void Promise.all([this.#nodes.stop(), this.#trust.stop(), this.#http?.close()]).finally(() => {
      for (const listener of this.#stopListeners) listener();
    });
  }
}

function nowSeconds(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}
