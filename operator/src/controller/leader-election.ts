import { ArgumentError } from '@meshguard/core';
import { type Clock, isConflict, sleep, systemClock } from '@meshguard/core/kube';
import { microTime, type LeaderElectionRecord, type LeaseLock, type VersionedRecord } from './lease-lock.js';

/** client-go's defaults (and the recommended ratios between them). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** Candidates wait retryPeriod · [1, 1 + JITTER) between attempts, so they do not retry in step. */
const JITTER_FACTOR = 1.2;
/** Conflicting writes retried at once (re-read, re-decide) before waiting for the next period. */
const CONFLICT_RETRIES = 3;

export interface LeaderElectionCallbacks {
  /**
   * This candidate now leads. `signal` aborts when leadership ends (lost, or stop() called).
   * A returned promise is the work the lease guards: on stop() the lease is kept renewed until
   * it settles and only then released, so a successor never overlaps with it; after a loss the
   * elector waits for it before campaigning again. If it rejects (the controllers failed to
   * start, say), the term ends and the lease is released rather than held by a leader doing
   * nothing.
   */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Leadership ended; called once per onStartedLeading. */
  readonly onStoppedLeading: () => void;
  /** The lease holder seen changed (this candidate included). */
  readonly onNewLeader?: (identity: string) => void;
  /** A failed attempt the elector recovers from by retrying; for logs. */
  readonly onError?: (err: unknown) => void;
}

export interface LeaderElectorOptions extends LeaderElectionCallbacks {
  readonly lock: LeaseLock;
  /** Unique per candidate: `${podName}_${uuid}` is the usual shape. */
  readonly identity: string;
  /** How long a lease lasts without renewal before others may take it; whole seconds in the API. */
  readonly leaseDurationMs?: number;
  /** A leader that has not renewed for this long steps down (before its lease can expire elsewhere). */
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Release the lease on stop() so a successor takes over at once instead of after leaseDuration. */
  readonly releaseOnStop?: boolean;
  readonly clock?: Clock;
  readonly random?: () => number;
}

type Attempt = 'held' | 'taken' | 'failed';

/**
 * Lease-based leader election with client-go's semantics:
 * - expiry is judged by when this candidate last saw the record change plus the holder's lease
 *   duration, on its own clock, so clock skew between candidates does not matter;
 * - every write carries the resourceVersion read, so of two racing candidates one wins and the
 *   other gets a 409 (retried after a fresh read);
 * - a leader steps down after renewDeadline without a successful renewal, which is shorter than
 *   the lease, so it stops before anyone else can start;
 * - stop() releases the lease (empty holder) after the guarded work has finished.
 *
 * After losing leadership it campaigns again (once the guarded work has finished); a process
 * that prefers controller-runtime's behaviour exits from onStoppedLeading.
 */
export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly #lock: LeaseLock;
  readonly #callbacks: LeaderElectionCallbacks;
  readonly #releaseOnStop: boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  #observed: VersionedRecord | undefined;
  #observedAt = 0;
  #renewedAt = 0;
  #leading = false;
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    if (this.identity === '') throw new ArgumentError('leader election identity must not be empty');
    if (!(this.leaseDurationMs >= 1000 && Number.isSafeInteger(this.leaseDurationMs / 1000))) {
      throw new ArgumentError(
        `lease duration must be a whole number of seconds, got ${String(this.leaseDurationMs)} ms`,
      );
    }
    if (!(this.renewDeadlineMs > 0 && this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new ArgumentError('renew deadline must be positive and shorter than the lease duration');
    }
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs * JITTER_FACTOR < this.renewDeadlineMs)) {
      throw new ArgumentError(`retry period must be positive and below renewDeadline / ${String(JITTER_FACTOR)}`);
    }
    this.#lock = options.lock;
    this.#callbacks = options;
    this.#releaseOnStop = options.releaseOnStop ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder in the last record seen ('' when released, undefined before the first read). */
  get observedLeader(): string | undefined {
    return this.#observed?.record.holderIdentity;
  }

  start(): void {
    if (this.#running !== undefined) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#loop(stop.signal);
  }

  /** Stops campaigning; if leading, ends the term, waits for the guarded work and releases the lease. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    await this.#running;
    this.#running = undefined;
    this.#stop = undefined;
  }

  async #loop(stop: AbortSignal): Promise<void> {
    // A function, so the type checker does not carry the loop condition's narrowing across awaits.
    const stopping = (): boolean => stop.aborted;
    const stopped = new Promise<void>((resolve) => {
      if (stop.aborted) resolve();
      else stop.addEventListener('abort', () => resolve(), { once: true });
    });
    while (!stopping()) {
      if (!(await this.#acquire(stop))) return;

      this.#leading = true;
      const term = new AbortController();
      let workFailed = (): void => undefined;
      const failure = new Promise<void>((resolve) => (workFailed = resolve));
      const work = this.#startWork(term.signal, workFailed);

      if ((await this.#hold(Promise.race([stopped, failure]))) === 'lost') {
        this.#endTerm(term);
        await work;
        continue;
      }
      // Stopping, or the guarded work failed: it winds down while the lease is still renewed,
      // then the lease goes, so a successor never overlaps with it.
      term.abort();
      const drained = await this.#hold(work);
      this.#leading = false;
      if (drained === 'done' && (this.#releaseOnStop || !stopping())) await this.#release();
      this.#callbacks.onStoppedLeading();
      // A leader whose work failed must not sit on the lease: it let go above, and campaigns
      // again after a pause, so that another candidate, or a later attempt, can do better.
      await sleep(this.#clock, this.retryPeriodMs, stop);
    }
  }

  /** The guarded work; `failed` is called if it throws or rejects. Never rejects itself. */
  #startWork(signal: AbortSignal, failed: () => void): Promise<void> {
    // Started from a microtask so a callback that throws synchronously is caught like a rejection.
    return Promise.resolve()
      .then(() => this.#callbacks.onStartedLeading(signal))
      .then(
        () => undefined,
        (err: unknown) => {
          this.#callbacks.onError?.(err);
          failed();
        },
      );
  }

  #endTerm(term: AbortController): void {
    this.#leading = false;
    term.abort();
    this.#callbacks.onStoppedLeading();
  }

  /** Campaigns until this candidate holds the lease (true) or stop aborts (false). */
  async #acquire(stop: AbortSignal): Promise<boolean> {
    while (!stop.aborted) {
      if ((await this.#attempt(this.renewDeadlineMs, stop)) === 'held') {
        this.#renewedAt = this.#clock.now();
        return true;
      }
      await sleep(this.#clock, this.retryPeriodMs * (1 + this.#random() * JITTER_FACTOR), stop);
    }
    return false;
  }

  /** Renews every retryPeriod until `until` settles ('done') or renewal fails past the deadline ('lost'). */
  async #hold(until: Promise<void>): Promise<'done' | 'lost'> {
    // Aborted when `until` settles: wakes the wait between renewals and says we are done.
    const finished = new AbortController();
    void until.then(() => {
      finished.abort();
    });
    for (;;) {
      // Wake at the deadline itself if it comes before the next period: step down on time.
      const untilDeadline = this.#renewedAt + this.renewDeadlineMs - this.#clock.now();
      await sleep(this.#clock, Math.max(0, Math.min(this.retryPeriodMs, untilDeadline)), finished.signal);
      if (finished.signal.aborted) return 'done';
      const remaining = this.#renewedAt + this.renewDeadlineMs - this.#clock.now();
      const result = remaining > 0 ? await this.#attempt(remaining) : 'failed';
      if (result === 'held') this.#renewedAt = this.#clock.now();
      // Someone else holds it (the lease was taken over or edited): step down now, not at the deadline.
      else if (result === 'taken' || this.#clock.now() - this.#renewedAt >= this.renewDeadlineMs) return 'lost';
    }
  }

  /** One tryAcquireOrRenew, bounded by `timeoutMs` (and by `stop`, while campaigning). */
  async #attempt(timeoutMs: number, stop?: AbortSignal): Promise<Attempt> {
    const timeout = new AbortController();
    const cancelTimer = this.#clock.setTimer(() => {
      timeout.abort(new Error(`${this.#lock.description}: attempt exceeded ${String(timeoutMs)} ms`));
    }, timeoutMs);
    const signal = stop === undefined ? timeout.signal : AbortSignal.any([stop, timeout.signal]);
    try {
      return await this.#tryAcquireOrRenew(signal);
    } catch (err) {
      if (!(stop?.aborted ?? false)) this.#callbacks.onError?.(err);
      return 'failed';
    } finally {
      cancelTimer();
    }
  }

  async #tryAcquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    for (let attempt = 0; ; attempt++) {
      const now = this.#clock.now();
      const current = await this.#lock.get(signal);
      try {
        if (current === undefined) {
          const created = await this.#lock.create(
            {
              holderIdentity: this.identity,
              leaseDurationSeconds: this.leaseDurationMs / 1000,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
            signal,
          );
          this.#observe(created);
          return 'held';
        }
        this.#observe(current);
        const { record } = current;
        const mine = record.holderIdentity === this.identity;
        const expiresAt = this.#observedAt + record.leaseDurationSeconds * 1000;
        if (!mine && record.holderIdentity !== '' && expiresAt > this.#clock.now()) return 'taken';
        const next: LeaderElectionRecord = {
          holderIdentity: this.identity,
          leaseDurationSeconds: this.leaseDurationMs / 1000,
          acquireTime: mine && record.acquireTime !== undefined ? record.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: mine ? record.leaseTransitions : record.leaseTransitions + 1,
        };
        this.#observe(await this.#lock.update(next, current.resourceVersion, signal));
        return 'held';
      } catch (err) {
        // Another candidate wrote between our read and our write: read again and decide anew.
        if (isConflict(err) && attempt < CONFLICT_RETRIES) continue;
        throw err;
      }
    }
  }

  async #release(): Promise<void> {
    const timeout = new AbortController();
    const cancelTimer = this.#clock.setTimer(() => timeout.abort(), this.renewDeadlineMs);
    try {
      for (let attempt = 0; ; attempt++) {
        const current = await this.#lock.get(timeout.signal);
        if (current?.record.holderIdentity !== this.identity) return;
        const now = microTime(this.#clock.now());
        try {
          // Holder empty and a 1 s duration, as client-go writes it: candidates take it on their next try.
          this.#observe(
            await this.#lock.update(
              {
                holderIdentity: '',
                leaseDurationSeconds: 1,
                acquireTime: now,
                renewTime: now,
                leaseTransitions: current.record.leaseTransitions,
              },
              current.resourceVersion,
              timeout.signal,
            ),
          );
          return;
        } catch (err) {
          if (isConflict(err) && attempt < CONFLICT_RETRIES) continue;
          throw err;
        }
      }
    } catch (err) {
      // Not fatal: the lease then simply expires after leaseDuration.
      this.#callbacks.onError?.(err);
    } finally {
      cancelTimer();
    }
  }

  #observe(current: VersionedRecord): void {
    if (current.resourceVersion === this.#observed?.resourceVersion) return;
    const previousHolder = this.#observed?.record.holderIdentity;
    this.#observed = current;
    this.#observedAt = this.#clock.now();
    const holder = current.record.holderIdentity;
    if (holder !== '' && holder !== previousHolder) this.#callbacks.onNewLeader?.(holder);
  }
}
