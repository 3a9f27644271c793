import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { ArgumentError } from '@meshguard/core';
import { KubeEventRecorder } from '../controller/event-recorder.js';
import { KubeClient } from '@meshguard/core/kube';
import { LeaderElector } from '../controller/leader-election.js';
import { KubeLeaseLock } from '../controller/lease-lock.js';
import { OperatorMetrics } from '../metrics/operator-metrics.js';
import type { ControllerRegistration, ControllerSetup, TermController } from './controller-registration.js';
import { EventLoopMonitor } from './event-loop-monitor.js';
import { OperatorHttpServer, type HealthCheck } from './http-server.js';
import { silentLogger, type Logger } from './logger.js';

export const DEFAULT_LEASE_NAME = 'meshguard-operator';
export const REPORTING_CONTROLLER = 'meshguard.dev/operator';

export interface LeaderElectionSettings {
  readonly leaseName?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface OperatorAppOptions {
  readonly kubeConfig: KubeConfig;
  /** The operator's namespace: where the lease lives. */
  readonly namespace: string;
  /** Default: `${POD_NAME or hostname}_${pid}_${random}` (see defaultIdentity). */
  readonly identity?: string;
  /** Where /metrics, /healthz and /readyz listen: `host:port` or `:port`. */
  readonly httpAddress: string;
  /** false: this replica runs its controllers unconditionally (one replica only, or development). */
  readonly leaderElection: false | LeaderElectionSettings;
  readonly controllers: readonly ControllerSetup[];
  /** How long reconciles in progress may finish on a graceful stop before they are aborted. */
  readonly drainTimeoutMs?: number;
  readonly logger?: Logger;
  /** Injectable so tests can read it and run several apps in one process. */
  readonly metrics?: OperatorMetrics;
  readonly requestTimeoutMs?: number;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The operator process: HTTP endpoints, informers, leader election, and the registered
 * controllers while leading.
 *
 * Start: HTTP server (so probes answer while the rest comes up) → informers → election (or the
 * controllers directly without it). Each term: wait for the informers' sync, make and start one
 * controller per registration; at the end of the term stop them, at once if leadership was lost
 * (nothing may be written any more), else letting reconciles in progress finish for up to
 * drainTimeoutMs. Stop: not ready → end the term (drain, then the elector releases the lease so a
 * standby takes over at once) → informers, Events → HTTP server last, so probes see all of it.
 */
export class OperatorApp {
  readonly identity: string;
  readonly namespace: string;
  readonly metrics: OperatorMetrics;
  readonly client: KubeClient;
  readonly #options: OperatorAppOptions;
  readonly #logger: Logger;
  readonly #events: KubeEventRecorder;
  readonly #registrations: readonly ControllerRegistration[];
  readonly #elector: LeaderElector | undefined;
  readonly #setLeader: (leading: boolean) => void;
  readonly #drainTimeoutMs: number;
  #loopMonitor: EventLoopMonitor | undefined;
  #http: OperatorHttpServer | undefined;
  #state: State = 'new';
  #running: readonly string[] = [];
  #terms = 0;
  // Without leader election: the one "term", ended by stop().
  #unelected: { readonly abort: AbortController; readonly work: Promise<void> } | undefined;

  constructor(options: OperatorAppOptions) {
    this.#options = options;
    this.identity = options.identity ?? defaultIdentity();
    this.namespace = options.namespace;
    this.#logger = options.logger ?? silentLogger;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    if (!(this.#drainTimeoutMs >= 0)) throw new ArgumentError('drain timeout must not be negative');
    this.metrics = options.metrics ?? new OperatorMetrics();
    this.client = new KubeClient(options.kubeConfig, { requestTimeoutMs: options.requestTimeoutMs ?? 30_000 });
    this.#events = new KubeEventRecorder({
      client: this.client,
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.identity.slice(0, 128),
      onError: (err) => {
        this.#logger.warn('event not recorded', { err });
      },
    });
    const context = {
      client: this.client,
      namespace: this.namespace,
      identity: this.identity,
      events: this.#events,
      domainMetrics: this.metrics.domain,
      logger: this.#logger,
    };
    this.#registrations = options.controllers.map((setup) => setup(context));
    const names = new Set<string>();
    for (const { name } of this.#registrations) {
      if (names.has(name)) throw new ArgumentError(`two controllers are registered as ${JSON.stringify(name)}`);
      names.add(name);
    }

    const settings = options.leaderElection;
    const leaseName = settings === false ? DEFAULT_LEASE_NAME : (settings.leaseName ?? DEFAULT_LEASE_NAME);
    this.#setLeader = this.metrics.leaderElection(leaseName);
    this.#elector =
      settings === false
        ? undefined
        : new LeaderElector({
            lock: new KubeLeaseLock(this.client, this.namespace, leaseName),
            identity: this.identity,
            ...(settings.leaseDurationMs !== undefined && { leaseDurationMs: settings.leaseDurationMs }),
            ...(settings.renewDeadlineMs !== undefined && { renewDeadlineMs: settings.renewDeadlineMs }),
            ...(settings.retryPeriodMs !== undefined && { retryPeriodMs: settings.retryPeriodMs }),
            onStartedLeading: (signal) => this.#lead(signal),
            onStoppedLeading: () => {
              this.#logger.info('stopped leading', { identity: this.identity });
            },
            onNewLeader: (leader) => {
              this.#logger.info('leader observed', { leader, self: leader === this.identity });
            },
            onError: (err) => {
              this.#logger.warn('leader election attempt failed', { err });
            },
          });
  }

  get isLeader(): boolean {
    return this.#elector?.isLeader ?? this.#unelected !== undefined;
  }

  /** Names of the controllers running now (empty on a standby). */
  get runningControllers(): readonly string[] {
    return this.#running;
  }

  /** Leadership terms started so far. */
  get terms(): number {
    return this.#terms;
  }

  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  /** The /readyz checks. A standby is ready: it is doing its job, which is to stand by. */
  readonly readiness: readonly HealthCheck[] = [
    {
      name: 'running',
      check: () => (this.#state === 'running' ? undefined : `operator is ${this.#state}`),
    },
    {
      name: 'informers-synced',
      check: () => {
        const waiting = this.#registrations.flatMap((r) => r.informers.filter((i) => !i.hasSynced()));
        return waiting.length === 0 ? undefined : `not synced: ${waiting.map((i) => i.name).join(', ')}`;
      },
    },
    {
      name: 'leader-election',
      check: () => {
        const elector = this.#elector;
        // Leading, or standing by after at least one successful read of the lease: a replica that
        // has never reached it cannot take over and is not ready.
        if (elector === undefined || elector.isLeader || elector.observedLeader !== undefined) return undefined;
        return 'lease not read yet';
      },
    },
  ];

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new ArgumentError(`cannot start an operator that is ${this.#state}`);
    this.#state = 'starting';
    const monitor = new EventLoopMonitor();
    this.#loopMonitor = monitor;
    this.#http = await OperatorHttpServer.start({
      address: this.#options.httpAddress,
      metrics: this.metrics,
      liveness: [{ name: 'event-loop', check: () => monitor.check() }],
      readiness: this.readiness,
    });
    this.#logger.info('http server listening', { url: this.#http.url, identity: this.identity });
    for (const r of this.#registrations) for (const informer of r.informers) informer.start();
    if (this.#elector === undefined) {
      const abort = new AbortController();
      this.#unelected = { abort, work: this.#lead(abort.signal) };
    } else {
      this.#elector.start();
    }
    this.#state = 'running';
  }

  /** Graceful shutdown; idempotent, and safe to call before start() completed. */
  async stop(): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    this.#logger.info('shutting down', { identity: this.identity });
    if (this.#elector !== undefined) {
      await this.#elector.stop();
    } else if (this.#unelected !== undefined) {
      this.#unelected.abort.abort();
      await this.#unelected.work.catch((err: unknown) => {
        this.#logger.error('controllers failed', { err });
      });
      this.#unelected = undefined;
    }
    await Promise.all(this.#registrations.flatMap((r) => r.informers.map((i) => i.stop())));
    await this.#events.close(2_000);
    this.#loopMonitor?.stop();
    await this.#http?.close();
    this.#state = 'stopped';
    this.#logger.info('stopped', { identity: this.identity });
  }

  /** One term: controllers run from here until `signal` aborts. */
  async #lead(signal: AbortSignal): Promise<void> {
    this.#terms++;
    this.#logger.info('leading', { identity: this.identity });
    this.#setLeader(true);
    const started: TermController[] = [];
    const untrack: (() => void)[] = [];
    try {
      const synced = await Promise.all(
        this.#registrations.flatMap((r) => r.informers.map((i) => i.waitForSync(signal))),
      );
      if (signal.aborted || synced.includes(false)) return;
      for (const registration of this.#registrations) {
        const term = registration.createController({
          signal,
          instrumentation: {
            metrics: this.metrics.controllerMetrics(registration.name),
            queue: { metrics: this.metrics.workQueueMetrics(registration.name) },
          },
        });
        started.push(term);
        untrack.push(this.metrics.trackQueue(term.controller.queue));
      }
      for (const { controller } of started) controller.start();
      this.#running = started.map((t) => t.controller.name);
      this.#logger.info('controllers started', { controllers: this.#running });
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      // The elector marks itself not leading before it aborts a lost term, and stays leading
      // (renewing) while a stopped term drains: so this tells a loss from a graceful end.
      const lost = this.#elector !== undefined && !this.#elector.isLeader;
      for (const t of started) t.dispose?.();
      await Promise.all(
        started.map(({ controller }) =>
          controller.stop(lost ? { abort: true } : { drainTimeoutMs: this.#drainTimeoutMs }),
        ),
      );
      for (const u of untrack) u();
      this.#running = [];
      this.#setLeader(false);
      this.#logger.info(lost ? 'controllers aborted: leadership lost' : 'controllers drained', {
        identity: this.identity,
      });
    }
  }
}

/**
 * The pod name (or host name) for people reading the lease, the pid, and random bytes: in a
 * container the pid is usually 1 in every incarnation, and a restarted replica must not pass for
 * the one before it, which may still hold the lease.
 */
export function defaultIdentity(env: NodeJS.ProcessEnv = process.env, hostname = osHostname()): string {
  const name = env['POD_NAME'] ?? hostname;
  return `${name}_${String(process.pid)}_${randomBytes(4).toString('hex')}`;
}
