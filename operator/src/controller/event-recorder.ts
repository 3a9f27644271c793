import { ArgumentError } from '@meshguard/core';
import {
  type Clock,
  ControllerError,
  isNotFound,
  type KubeClient,
  type KubeObject,
  MERGE_PATCH,
  sleep,
  systemClock,
} from '@meshguard/core/kube';
import { microTime } from './lease-lock.js';
import { BucketRateLimiter } from './rate-limiter.js';

/**
 * Kubernetes Events for the objects the operator reconciles, written through events.k8s.io/v1.
 *
 * Why events.k8s.io/v1 rather than core/v1: it is the API client-go's current recorder
 * (tools/events) writes, with repetition modelled as a `series` instead of core/v1's
 * count/firstTimestamp/lastTimestamp triple, and it names the writing replica
 * (reportingController/reportingInstance), which matters with leader election. Both APIs read
 * the same storage, so `kubectl describe` and `kubectl events` show these Events either way.
 */

export type EventType = 'Normal' | 'Warning';

/** events.k8s.io/v1 `regarding`: what the Event is about. */
export interface EventObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  /** Omitted for cluster-scoped objects (MeshOrg, MeshNode). */
  readonly namespace?: string;
  readonly resourceVersion?: string;
}

export interface EventOptions {
  /** What the controller did or failed to do (events.k8s.io/v1 requires one); default: the reason. */
  readonly action?: string;
  /** A second object involved (a Secret the org key came from, say). */
  readonly related?: EventObjectReference | KubeObject;
}

/** What reconcilers depend on; KubeEventRecorder is the real one, tests may pass a fake. */
export interface EventRecorder {
  /** Records asynchronously and never throws: an Event is a courtesy, never worth failing a reconcile. */
  event(
    regarding: EventObjectReference | KubeObject,
    type: EventType,
    reason: string,
    note: string,
    options?: EventOptions,
  ): void;
}

export interface EventRecorderStats {
  /** Calls of event(). */
  readonly recorded: number;
  /** Events created in the API. */
  readonly created: number;
  /** Repeats folded into an existing Event's series instead of a new Event. */
  readonly deduplicated: number;
  /** Series updates (count/lastObservedTime) written. */
  readonly seriesUpdates: number;
  /** New Events refused by the per-object spam filter. */
  readonly droppedRateLimited: number;
  /** Writes dropped because the backlog was full (API server too slow or unreachable). */
  readonly droppedQueueFull: number;
  /** Invalid input or failed API requests; each also went to onError. */
  readonly errors: number;
  /** Writes waiting to be sent. */
  readonly pending: number;
}

export interface KubeEventRecorderOptions {
  readonly client: KubeClient;
  /** A qualified name, e.g. `meshguard.io/operator`. */
  readonly reportingController: string;
  /** This replica: the pod name (≤ 128 characters). */
  readonly reportingInstance: string;
  /** Where Events about cluster-scoped objects go; the API server only accepts `default` or `kube-system`. */
  readonly clusterScopedNamespace?: string;
  /** A repeat within this long of the previous occurrence joins its series (client-go: 6 min). */
  readonly seriesWindowMs?: number;
  /** Series updates of one Event are written at most this often; repeats in between are coalesced. */
  readonly seriesUpdateIntervalMs?: number;
  /** Per-object spam filter for new Events (client-go's core/v1 correlator: burst 25, one per 5 min). */
  readonly perObjectBurst?: number;
  readonly perObjectRefillMs?: number;
  /** Overall write rate to the API server. */
  readonly qps?: number;
  readonly burst?: number;
  /** Bounds on memory: distinct (object, reason, note) series and objects tracked, writes queued. */
  readonly maxSeries?: number;
  readonly maxPending?: number;
  readonly requestTimeoutMs?: number;
  readonly clock?: Clock;
  /** Failures (counted in stats.errors); for logs. */
  readonly onError?: (err: unknown) => void;
}

/** Invalid input to event(): reported through onError, never thrown at the caller. */
export class EventRecorderError extends ControllerError {
  constructor(message: string) {
    super('decode', message);
  }
}

const REASON_LIMIT = 128;
const ACTION_LIMIT = 128;
const NOTE_LIMIT_BYTES = 1024;
const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

interface Series {
  readonly key: string;
  readonly namespace: string;
  readonly regarding: EventObjectReference;
  readonly related: EventObjectReference | undefined;
  readonly type: EventType;
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  /** The Event's name once created; undefined while its create is pending or after it failed. */
  name: string | undefined;
  count: number;
  firstAt: number;
  lastObservedAt: number;
  /** count as last written to the API. */
  writtenCount: number;
  writtenAt: number;
  /** A series update is scheduled or queued. */
  flushPending: boolean;
  cancelFlush: () => void;
}

type Write = { readonly kind: 'create' | 'series'; readonly series: Series };

interface ObjectBucket {
  tokens: number;
  refilledAt: number;
}

/**
 * Records Events with client-go's de-duplication: the same type, reason, action and note for the
 * same object within the series window does not create another Event but bumps the first one's
 * `series.count` (written at most every seriesUpdateIntervalMs, so a hot loop costs one write per
 * interval, not one per call). New Events pass a per-object spam filter, all writes an overall
 * rate limit, and the backlog, the series and the per-object buckets are bounded, oldest evicted
 * first. Writes go out one at a time from a background loop; failures are counted, never thrown.
 */
export class KubeEventRecorder implements EventRecorder {
  readonly #client: KubeClient;
  readonly #controller: string;
  readonly #instance: string;
  readonly #clusterNamespace: string;
  readonly #windowMs: number;
  readonly #seriesIntervalMs: number;
  readonly #objectBurst: number;
  readonly #objectRefillMs: number;
  readonly #maxSeries: number;
  readonly #maxPending: number;
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  readonly #onError: (err: unknown) => void;
  readonly #limiter: BucketRateLimiter<string>;
  // Maps iterate in insertion order; entries are re-inserted when used, so the first is the least recent.
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, ObjectBucket>();
  readonly #pending: Write[] = [];
  readonly #closing = new AbortController();
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #sending = false;
  #closed = false;
  #sequence = 0;
  readonly #loop: Promise<void>;
  #stats = {
    recorded: 0,
    created: 0,
    deduplicated: 0,
    seriesUpdates: 0,
    droppedRateLimited: 0,
    droppedQueueFull: 0,
    errors: 0,
  };

  constructor(options: KubeEventRecorderOptions) {
    if (!QUALIFIED_NAME.test(options.reportingController)) {
      throw new ArgumentError(`reportingController must be a qualified name, got ${options.reportingController}`);
    }
    if (options.reportingInstance === '' || options.reportingInstance.length > 128) {
      throw new ArgumentError('reportingInstance must have 1 to 128 characters');
    }
    this.#client = options.client;
    this.#controller = options.reportingController;
    this.#instance = options.reportingInstance;
    this.#clusterNamespace = options.clusterScopedNamespace ?? 'default';
    this.#windowMs = options.seriesWindowMs ?? 6 * 60_000;
    this.#seriesIntervalMs = options.seriesUpdateIntervalMs ?? 30_000;
    this.#objectBurst = options.perObjectBurst ?? 25;
    this.#objectRefillMs = options.perObjectRefillMs ?? 5 * 60_000;
    this.#maxSeries = options.maxSeries ?? 4096;
    this.#maxPending = options.maxPending ?? 1000;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => undefined);
    this.#limiter = new BucketRateLimiter<string>(options.qps ?? 10, options.burst ?? 50);
    for (const [what, v] of [
      ['series window', this.#windowMs],
      ['series update interval', this.#seriesIntervalMs],
      ['per-object refill', this.#objectRefillMs],
      ['request timeout', this.#timeoutMs],
    ] as const) {
      if (!(v > 0 && Number.isFinite(v))) throw new ArgumentError(`${what} must be a positive number of ms`);
    }
    for (const [what, v] of [
      ['per-object burst', this.#objectBurst],
      ['max series', this.#maxSeries],
      ['max pending', this.#maxPending],
    ] as const) {
      if (!(Number.isSafeInteger(v) && v >= 1)) throw new ArgumentError(`${what} must be a positive integer`);
    }
    this.#loop = this.#run();
  }

  event(
    regarding: EventObjectReference | KubeObject,
    type: EventType,
    reason: string,
    note: string,
    options: EventOptions = {},
  ): void {
    try {
      this.#record(regarding, type, reason, note, options);
    } catch (err) {
      // Nothing in #record should throw; this keeps the promise to callers even if something does.
      this.#fail(err);
    }
  }

  get stats(): EventRecorderStats {
    return { ...this.#stats, pending: this.#pending.length };
  }

  /** Writes outstanding series updates now and resolves once nothing is pending or in flight. */
  async flush(): Promise<void> {
    for (const series of this.#series.values()) {
      if (series.flushPending && series.count > series.writtenCount) {
        series.cancelFlush();
        series.flushPending = false;
        this.#scheduleSeries(series, true);
      }
    }
    if (this.#pending.length === 0 && !this.#sending) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops recording (later calls are ignored), flushes what is pending for at most `timeoutMs`,
   * then abandons the rest and aborts a write in flight.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return this.#loop;
    const flushed = this.flush();
    this.#closed = true;
    let cancel = (): void => undefined;
    await Promise.race([flushed, new Promise<void>((resolve) => (cancel = this.#clock.setTimer(resolve, timeoutMs)))]);
    cancel();
    for (const series of this.#series.values()) series.cancelFlush();
    this.#pending.length = 0;
    this.#closing.abort();
    this.#wake?.();
    await this.#loop;
  }

  #record(
    regardingIn: EventObjectReference | KubeObject,
    type: EventType,
    reasonIn: string,
    noteIn: string,
    options: EventOptions,
  ): void {
    if (this.#closed) return;
    this.#stats.recorded++;
    const regarding = toReference(regardingIn);
    const related = options.related === undefined ? undefined : toReference(options.related);
    if (typeof regarding === 'string') return this.#fail(new EventRecorderError(`event regarding: ${regarding}`));
    if (typeof related === 'string') return this.#fail(new EventRecorderError(`event related: ${related}`));
    // Widened: callers in plain JavaScript, or with a cast, can pass anything.
    const typeText: string = type;
    if (typeText !== 'Normal' && typeText !== 'Warning') {
      return this.#fail(new EventRecorderError(`event type must be Normal or Warning, got ${typeText}`));
    }
    const reason = reasonIn.slice(0, REASON_LIMIT);
    if (reason === '') return this.#fail(new EventRecorderError('event reason must not be empty'));
    const action = (options.action ?? reason).slice(0, ACTION_LIMIT);
    const note = truncateUtf8(noteIn, NOTE_LIMIT_BYTES);
    const now = this.#clock.now();
    const namespace = regarding.namespace ?? this.#clusterNamespace;

    // The identity client-go's tools/events uses, plus the note: the same words again are a repeat;
    // new words are news worth their own Event.
    const key = JSON.stringify([regarding.uid, type, reason, action, note, related?.uid ?? '']);
    const existing = this.#series.get(key);
    if (existing !== undefined && now - existing.lastObservedAt < this.#windowMs) {
      this.#series.delete(key);
      this.#series.set(key, existing);
      existing.count++;
      existing.lastObservedAt = now;
      this.#stats.deduplicated++;
      this.#scheduleSeries(existing, false);
      return;
    }
    if (existing !== undefined) this.#forget(existing);

    if (!this.#takeObjectToken(regarding.uid, now)) {
      this.#stats.droppedRateLimited++;
      return;
    }
    const series: Series = {
      key,
      namespace,
      regarding,
      related,
      type,
      reason,
      action,
      note,
      name: undefined,
      count: 1,
      firstAt: now,
      lastObservedAt: now,
      writtenCount: 0,
      writtenAt: now,
      flushPending: false,
      cancelFlush: () => undefined,
    };
    this.#series.set(key, series);
    while (this.#series.size > this.#maxSeries) {
      const oldest = this.#series.values().next().value;
      if (oldest === undefined) break;
      this.#forget(oldest);
    }
    this.#enqueue({ kind: 'create', series });
  }

  /** Queues a series update now (`immediate`) or when the series' update interval allows. */
  #scheduleSeries(series: Series, immediate: boolean): void {
    if (series.flushPending) return;
    series.flushPending = true;
    const delay = immediate ? 0 : series.writtenAt + this.#seriesIntervalMs - this.#clock.now();
    if (delay <= 0) {
      this.#enqueue({ kind: 'series', series });
      return;
    }
    series.cancelFlush = this.#clock.setTimer(() => {
      series.cancelFlush = () => undefined;
      this.#enqueue({ kind: 'series', series });
    }, delay);
  }

  #forget(series: Series): void {
    series.cancelFlush();
    this.#series.delete(series.key);
  }

  /** The per-object spam filter: a token bucket per uid, the least recently used evicted beyond maxSeries. */
  #takeObjectToken(uid: string, now: number): boolean {
    let bucket = this.#buckets.get(uid);
    if (bucket === undefined) {
      bucket = { tokens: this.#objectBurst, refilledAt: now };
      while (this.#buckets.size >= this.#maxSeries) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest === undefined) break;
        this.#buckets.delete(oldest);
      }
    } else {
      this.#buckets.delete(uid);
      const refill = Math.floor(Math.max(0, now - bucket.refilledAt) / this.#objectRefillMs);
      if (refill > 0) {
        bucket.tokens = Math.min(this.#objectBurst, bucket.tokens + refill);
        bucket.refilledAt =
          bucket.tokens === this.#objectBurst ? now : bucket.refilledAt + refill * this.#objectRefillMs;
      }
    }
    this.#buckets.set(uid, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  #enqueue(write: Write): void {
    if (this.#closed && write.kind === 'create') return;
    if (this.#pending.length >= this.#maxPending) {
      this.#stats.droppedQueueFull++;
      write.series.flushPending = false;
      if (write.kind === 'create') this.#forget(write.series);
      return;
    }
    this.#pending.push(write);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    const closing = this.#closing.signal;
    // A function, so the type checker does not carry the narrowing of `aborted` across awaits.
    const isClosing = (): boolean => closing.aborted;
    for (;;) {
      const write = this.#pending.shift();
      if (write === undefined) {
        this.#sending = false;
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const resolve of waiters) resolve();
        if (isClosing()) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      this.#sending = true;
      const delay = this.#limiter.when('', this.#clock.now());
      if (delay > 0) await sleep(this.#clock, delay, closing);
      if (isClosing()) continue;
      try {
        if (write.kind === 'create') await this.#create(write.series, closing);
        else await this.#updateSeries(write.series, closing);
      } catch (err) {
        if (!isClosing()) this.#fail(err);
        if (write.kind === 'create') this.#forget(write.series);
      }
    }
  }

  async #create(series: Series, signal: AbortSignal): Promise<void> {
    // Client-go's naming: the object's name and a timestamp, here with a sequence number so two
    // Events in one millisecond cannot collide. Names are DNS subdomains: at most 253 characters.
    const suffix = `.${(Math.floor(this.#clock.now()) * 1000 + (this.#sequence++ % 1000)).toString(16)}`;
    const name = series.regarding.name.slice(0, 253 - suffix.length).replace(/[^a-z0-9]+$/, '') + suffix;
    const count = series.count;
    await this.#client.request('POST', eventsPath(series.namespace), {
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace: series.namespace },
        eventTime: microTime(series.firstAt),
        ...(count > 1 && { series: { count, lastObservedTime: microTime(series.lastObservedAt) } }),
        reportingController: this.#controller,
        reportingInstance: this.#instance,
        action: series.action,
        reason: series.reason,
        note: series.note,
        type: series.type,
        regarding: series.regarding,
        ...(series.related !== undefined && { related: series.related }),
      },
      signal,
      timeoutMs: this.#timeoutMs,
    });
    series.name = name;
    series.writtenCount = count;
    series.writtenAt = this.#clock.now();
    this.#stats.created++;
    // Repeats that came while the create was in flight.
    if (series.count > count) this.#scheduleSeries(series, false);
  }

  async #updateSeries(series: Series, signal: AbortSignal): Promise<void> {
    series.flushPending = false;
    // Its create failed or it was evicted: the repeats have nothing to join.
    if (series.name === undefined || this.#series.get(series.key) !== series) return;
    const count = series.count;
    if (count <= series.writtenCount) return;
    try {
      await this.#client.request('PATCH', `${eventsPath(series.namespace)}/${series.name}`, {
        body: { series: { count, lastObservedTime: microTime(series.lastObservedAt) } },
        contentType: MERGE_PATCH,
        signal,
        timeoutMs: this.#timeoutMs,
      });
    } catch (err) {
      // The API server deletes Events after their TTL (1 h by default): the series goes on in a new one.
      if (!isNotFound(err)) throw err;
      series.name = undefined;
      await this.#create(series, signal);
      return;
    }
    series.writtenCount = count;
    series.writtenAt = this.#clock.now();
    this.#stats.seriesUpdates++;
    if (series.count > count) this.#scheduleSeries(series, false);
  }

  #fail(err: unknown): void {
    this.#stats.errors++;
    try {
      this.#onError(err);
    } catch {
      // A failing log hook must not turn into an exception at the caller either.
    }
  }
}

function eventsPath(namespace: string): string {
  return `/apis/events.k8s.io/v1/namespaces/${namespace}/events`;
}

/** The reference, or why there is none (an object read from the API always has all four fields). */
function toReference(value: EventObjectReference | KubeObject): EventObjectReference | string {
  if ('metadata' in value) {
    const { apiVersion, kind } = value;
    const { name, uid, namespace, resourceVersion } = value.metadata;
    if (apiVersion === undefined || kind === undefined) return `${name}: apiVersion and kind are required`;
    if (uid === undefined || uid === '') return `${name}: metadata.uid is required`;
    return {
      apiVersion,
      kind,
      name,
      uid,
      ...(namespace !== undefined && namespace !== '' && { namespace }),
      ...(resourceVersion !== undefined && { resourceVersion }),
    };
  }
  if (value.apiVersion === '' || value.kind === '' || value.name === '' || value.uid === '') {
    return `${value.name}: apiVersion, kind, name and uid are required`;
  }
  return value;
}

/** At most `limit` UTF-8 bytes, cut at a character boundary, with an ellipsis when cut. */
function truncateUtf8(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > limit - 3) break;
    out += ch;
    bytes += size;
  }
  return `${out}...`;
}
