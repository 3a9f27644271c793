import type { EventRecorder } from '../controller/event-recorder.js';
import type { KubeClient } from '@meshguard/core/kube';
import type { ControllerMetrics } from '../controller/reconciler.js';
import type { WorkQueueMetrics } from '../controller/work-queue.js';
import type { DomainMetrics, SampledQueue } from '../metrics/operator-metrics.js';
import type { Logger } from './logger.js';

/**
 * How a controller plugs into OperatorApp. The app knows nothing of MeshOrg or MeshNode: each
 * controller is a ControllerSetup, called once at startup with the shared plumbing, returning
 * its informers and a factory for one leadership term's Controller.
 *
 * Informers run on every replica from startup, leader or not (as controller-runtime's caches
 * do): a standby then takes over with warm caches, and readiness can require them synced on
 * every replica. Controllers, which write, run only while leading, and a new one is made for
 * each term because a stopped Controller does not start again.
 */

/** What the app needs of an Informer. */
export interface ManagedInformer {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(signal?: AbortSignal): Promise<boolean>;
}

/** What the app needs of a Controller (any key type). */
export interface ManagedController {
  readonly name: string;
  readonly queue: SampledQueue;
  start(): void;
  stop(options?: { readonly drainTimeoutMs?: number; readonly abort?: boolean }): Promise<void>;
}

export interface SetupContext {
  readonly client: KubeClient;
  /** The operator's own namespace (lease, org key Secrets, trust ConfigMaps). */
  readonly namespace: string;
  /** This replica's leader-election identity. */
  readonly identity: string;
  readonly events: EventRecorder;
  readonly domainMetrics: DomainMetrics;
  readonly logger: Logger;
}

/**
 * Spread into `new Controller({ name, reconciler, ...term.instrumentation })` so the controller
 * and its queue report controller_runtime_* and workqueue_* under the registration's name.
 */
export interface ControllerInstrumentation {
  readonly metrics: ControllerMetrics;
  readonly queue: { readonly metrics: WorkQueueMetrics };
}

export interface LeadershipTerm {
  readonly instrumentation: ControllerInstrumentation;
  /** Aborts when the term ends; for anything the factory starts besides the controller. */
  readonly signal: AbortSignal;
}

export interface TermController {
  /** Not started yet: the app starts it once every registration's controller is made. */
  readonly controller: ManagedController;
  /** Undoes the factory's wiring (informer handlers feeding the queue); called before stop. */
  readonly dispose?: () => void;
}

export interface ControllerRegistration {
  /** Label value of the controller_runtime_* and workqueue_* metrics; unique per app. */
  readonly name: string;
  readonly informers: readonly ManagedInformer[];
  /**
   * Called at the start of each term, after the informers have synced. Handlers added to a
   * synced informer get its current objects replayed (Informer.addHandlers), so enqueueOnChange
   * here fills the new queue with every key.
   */
  createController(term: LeadershipTerm): TermController;
}

export type ControllerSetup = (context: SetupContext) => ControllerRegistration;
