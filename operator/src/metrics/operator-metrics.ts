import { ArgumentError } from '@meshguard/core';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ControllerMetrics, ReconcileOutcome } from '../controller/reconciler.js';
import type { WorkQueueMetrics } from '../controller/work-queue.js';

/**
 * The operator's Prometheus metrics, named as controller-runtime names them so that existing
 * dashboards and alerts (kube-prometheus' controller-runtime mixins) work unchanged. Each
 * controller, queue and lease gets its label value through the hook factories below; the
 * plumbing in controller/ only calls plain functions and knows nothing of prom-client.
 */

/** controller-runtime's reconcile_time_seconds buckets: fine below a second, coarse up to a minute. */
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
/** controller-runtime's workqueue buckets: ExponentialBuckets(10e-9, 10, 12), 10 ns to 1000 s. */
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

const RESULTS: readonly ReconcileOutcome[] = ['success', 'error', 'requeue', 'requeue_after'];

/** The label value a new org gets once maxOrgs distinct ones are tracked: cardinality stays bounded. */
export const OVERFLOW_ORG = '_overflow';

export interface OperatorMetricsOptions {
  /** process_* and nodejs_* metrics from prom-client (default true). */
  readonly defaultMetrics?: boolean;
  /** Distinct `org` label values tracked before new ones are folded into OVERFLOW_ORG. */
  readonly maxOrgs?: number;
}

/** Sampled gauges of a queue (not pushed through hooks, since they grow while nothing happens). */
export interface SampledQueue {
  readonly name: string;
  unfinishedWorkSeconds(): number;
  longestRunningProcessorSeconds(): number;
}

/** What the reconcilers feed: certificates per org. Label values are org names only. */
export interface DomainMetrics {
  certificateIssued(org: string): void;
  setCertificatesExpiring(org: string, count: number): void;
  /** The org is gone: its series go too, so deleted orgs do not accumulate. */
  forgetOrg(org: string): void;
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly domain: DomainMetrics;
  readonly #reconcileTotal: Counter<'controller' | 'result'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #reconcileTime: Histogram<'controller'>;
  readonly #activeWorkers: Gauge<'controller'>;
  readonly #depth: Gauge<'name'>;
  readonly #adds: Counter<'name'>;
  readonly #retries: Counter<'name'>;
  readonly #queueDuration: Histogram<'name'>;
  readonly #workDuration: Histogram<'name'>;
  readonly #leader: Gauge<'name'>;
  readonly #certificatesIssued: Counter<'org'>;
  readonly #certificatesExpiring: Gauge<'org'>;
  readonly #queues = new Set<SampledQueue>();
  readonly #orgs = new Set<string>();
  readonly #maxOrgs: number;

  constructor(options: OperatorMetricsOptions = {}) {
    this.#maxOrgs = options.maxOrgs ?? 1000;
    if (!(Number.isSafeInteger(this.#maxOrgs) && this.#maxOrgs >= 1)) {
      throw new ArgumentError('maxOrgs must be a positive integer');
    }
    const registers = [this.registry];
    this.#reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.#reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    });
    this.#activeWorkers = new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    });
    this.#depth = new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name'],
      registers,
    });
    this.#adds = new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name'],
      registers,
    });
    this.#retries = new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name'],
      registers,
    });
    this.#queueDuration = new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.#workDuration = new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    const queues = this.#queues;
    new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and hasn\u2019t been observed by work_duration',
      labelNames: ['name'],
      registers,
      collect() {
        this.reset();
        for (const q of queues) this.set({ name: q.name }, q.unfinishedWorkSeconds());
      },
    });
    new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name'],
      registers,
      collect() {
        this.reset();
        for (const q of queues) this.set({ name: q.name }, q.longestRunningProcessorSeconds());
      },
    });
    this.#leader = new Gauge({
      name: 'leader_election_master_status',
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      labelNames: ['name'],
      registers,
    });
    this.#certificatesIssued = new Counter({
      name: 'meshguard_certificates_issued_total',
      help: 'Node certificates issued, per MeshOrg',
      labelNames: ['org'],
      registers,
    });
    this.#certificatesExpiring = new Gauge({
      name: 'meshguard_certificates_expiring',
      help: 'Node certificates of a MeshOrg within their renewal window and not yet renewed',
      labelNames: ['org'],
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.domain = {
      certificateIssued: (org) => {
        this.#certificatesIssued.inc({ org: this.#orgLabel(org) });
      },
      setCertificatesExpiring: (org, count) => {
        this.#certificatesExpiring.set({ org: this.#orgLabel(org) }, count);
      },
      forgetOrg: (org) => {
        if (!this.#orgs.delete(org)) return;
        this.#certificatesIssued.remove({ org });
        this.#certificatesExpiring.remove({ org });
      },
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Hooks for `new Controller({ name, metrics })`. Every result starts at 0, as in controller-runtime. */
  controllerMetrics(controller: string): ControllerMetrics {
    for (const result of RESULTS) this.#reconcileTotal.inc({ controller, result }, 0);
    this.#reconcileErrors.inc({ controller }, 0);
    this.#activeWorkers.set({ controller }, 0);
    return {
      reconciled: (outcome, seconds) => {
        this.#reconcileTotal.inc({ controller, result: outcome });
        if (outcome === 'error') this.#reconcileErrors.inc({ controller });
        this.#reconcileTime.observe({ controller }, seconds);
      },
      activeWorkers: (count) => {
        this.#activeWorkers.set({ controller }, count);
      },
    };
  }

  /** Hooks for a WorkQueue (a Controller's queue is named after the controller). */
  workQueueMetrics(name: string): WorkQueueMetrics {
    this.#adds.inc({ name }, 0);
    this.#retries.inc({ name }, 0);
    this.#depth.set({ name }, 0);
    return {
      add: () => {
        this.#adds.inc({ name });
      },
      depth: (depth) => {
        this.#depth.set({ name }, depth);
      },
      retry: () => {
        this.#retries.inc({ name });
      },
      queueDuration: (seconds) => {
        this.#queueDuration.observe({ name }, seconds);
      },
      workDuration: (seconds) => {
        this.#workDuration.observe({ name }, seconds);
      },
    };
  }

  /** Samples a queue's in-progress gauges at each scrape until the returned function is called. */
  trackQueue(queue: SampledQueue): () => void {
    this.#queues.add(queue);
    return () => {
      this.#queues.delete(queue);
    };
  }

  /** leader_election_master_status for one lease. */
  leaderElection(lease: string): (leading: boolean) => void {
    this.#leader.set({ name: lease }, 0);
    return (leading) => {
      this.#leader.set({ name: lease }, leading ? 1 : 0);
    };
  }

  #orgLabel(org: string): string {
    if (this.#orgs.has(org)) return org;
    if (this.#orgs.size >= this.#maxOrgs) return OVERFLOW_ORG;
    this.#orgs.add(org);
    return org;
  }
}
