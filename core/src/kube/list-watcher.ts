import { ArgumentError } from '../index.js';
import { KubeApiError, KubeDecodeError, isGone, type ControllerError } from './errors.js';
import type { KubeClient } from './kube-client.js';
import { asKubeObject, isRecord, type KubeObject } from './kube-object.js';
import { resourcePath, type ResourceRef } from './resource.js';

export type WatchEvent<T> =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: T }
  /** Carries nothing but a newer resourceVersion to resume from. */
  | { readonly type: 'BOOKMARK'; readonly resourceVersion: string }
  /** A Status in the stream (410 when the resourceVersion expired) or an event that did not decode. */
  | { readonly type: 'ERROR'; readonly error: ControllerError };

export interface ListResult<T> {
  readonly items: readonly T[];
  /** The collection's version at the time of the list: where the watch resumes. */
  readonly resourceVersion: string;
}

export interface WatchSink<T> {
  event(event: WatchEvent<T>): void;
  /** Called once when the stream ends: undefined for an orderly end, else why it failed. */
  done(error: unknown): void;
}

/**
 * The two calls an informer makes, as a seam: the informer's recovery logic (re-list on 410,
 * backoff, watchdog) is tested against a scripted fake as well as against a real API server.
 */
export interface ListWatcher<T> {
  list(signal: AbortSignal): Promise<ListResult<T>>;
  /**
   * Opens a watch from `resourceVersion`. Resolves once the server accepted it (or it already
   * failed, in which case sink.done has been called) with a function that ends it.
   */
  watch(resourceVersion: string, sink: WatchSink<T>): Promise<() => void>;
}

export interface KubeListWatcherOptions<T> {
  /** Only this namespace (namespaced kinds); omitted: all namespaces, or the cluster scope. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Items per list page; client-go's reflector uses 500. */
  readonly pageSize?: number;
  readonly listTimeoutMs?: number;
  /** Server-side watch lifetime; a random value in [min, 2·min) spreads reconnects like client-go. */
  readonly minWatchTimeoutSeconds?: number;
  readonly random?: () => number;
  /**
   * Turns a listed item or watched object into `T`; throws KubeDecodeError to refuse it.
   * Default: the metadata is checked and the rest trusted to match `T` (the API server validated
   * it against its schema); a reconciler needing more certainty decodes the fields it uses.
   */
  readonly decode?: (value: unknown, what: string) => T;
}

/** Lists and watches one resource through KubeClient (client-node's Watch underneath). */
export class KubeListWatcher<T extends KubeObject> implements ListWatcher<T> {
  readonly #client: KubeClient;
  readonly #resource: ResourceRef;
  readonly #path: string;
  readonly #options: KubeListWatcherOptions<T>;
  readonly #decode: (value: unknown, what: string) => T;

  constructor(client: KubeClient, resource: ResourceRef, options: KubeListWatcherOptions<T> = {}) {
    const pageSize = options.pageSize ?? 500;
    if (!(Number.isSafeInteger(pageSize) && pageSize > 0)) {
      throw new ArgumentError(`page size must be a positive integer, got ${String(pageSize)}`);
    }
    this.#client = client;
    this.#resource = resource;
    this.#path = resourcePath(resource, options.namespace);
    this.#options = options;
    // The one unchecked step from KubeObject to T; see KubeListWatcherOptions.decode.
    this.#decode = options.decode ?? ((value, what) => asKubeObject(value, what) as T);
  }

  async list(signal: AbortSignal): Promise<ListResult<T>> {
    try {
      return await this.#list(signal, this.#options.pageSize ?? 500);
    } catch (err) {
      // A continue token outlives its snapshot only so long (etcd compaction); one unpaginated
      // list is then the way to a consistent snapshot, as client-go's pager falls back to.
      if (isGone(err)) return this.#list(signal, undefined);
      throw err;
    }
  }

  async #list(signal: AbortSignal, limit: number | undefined): Promise<ListResult<T>> {
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    do {
      // No resourceVersion: a consistent (quorum) read, never a stale cache that would hide a
      // deletion the informer must learn about after a 410.
      const body = await this.#client.request('GET', this.#path, {
        query: {
          limit,
          continue: continueToken,
          labelSelector: this.#options.labelSelector,
          fieldSelector: this.#options.fieldSelector,
        },
        signal,
        timeoutMs: this.#options.listTimeoutMs ?? 60_000,
      });
      const what = `list ${this.#path}`;
      if (!isRecord(body) || !Array.isArray(body['items']) || !isRecord(body['metadata'])) {
        throw new KubeDecodeError(`${what}: not a list`);
      }
      const metadata = body['metadata'];
      if (typeof metadata['resourceVersion'] !== 'string') throw new KubeDecodeError(`${what}: no resourceVersion`);
      if (continueToken === undefined) resourceVersion = metadata['resourceVersion'];
      for (const item of body['items'] as unknown[]) {
        // List items come without apiVersion and kind, watch events with them: one shape in the store.
        const withType = isRecord(item)
          ? { apiVersion: this.#resource.apiVersion, kind: this.#resource.kind, ...item }
          : item;
        items.push(this.#decode(withType, what));
      }
      const next = metadata['continue'];
      continueToken = typeof next === 'string' && next !== '' ? next : undefined;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  async watch(resourceVersion: string, sink: WatchSink<T>): Promise<() => void> {
    const min = this.#options.minWatchTimeoutSeconds ?? 300;
    const random = this.#options.random ?? Math.random;
    const what = `watch ${this.#path}`;
    const controller = await this.#client.watch(
      this.#path,
      {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(min * (1 + random())),
        labelSelector: this.#options.labelSelector,
        fieldSelector: this.#options.fieldSelector,
      },
      (type, object) => {
        sink.event(decodeEvent(type, object, what, this.#decode));
      },
      (err: unknown) => {
        sink.done(watchEndError(err, what));
      },
    );
    return () => {
      controller.abort();
    };
  }
}

function decodeEvent<T>(
  type: string,
  object: unknown,
  what: string,
  decode: (value: unknown, what: string) => T,
): WatchEvent<T> {
  try {
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        return { type, object: decode(object, `${what} ${type} event`) };
      case 'BOOKMARK': {
        const meta = isRecord(object) ? object['metadata'] : undefined;
        const rv = isRecord(meta) ? meta['resourceVersion'] : undefined;
        if (typeof rv !== 'string') throw new KubeDecodeError(`${what}: BOOKMARK without resourceVersion`);
        return { type, resourceVersion: rv };
      }
      case 'ERROR': {
        const status = isRecord(object) ? object : {};
        const code = typeof status['code'] === 'number' ? status['code'] : 500;
        const reason = typeof status['reason'] === 'string' ? status['reason'] : undefined;
        const message = typeof status['message'] === 'string' ? status['message'] : 'watch ERROR event';
        return { type, error: new KubeApiError(code, reason, `${what}: ${String(code)} ${message}`) };
      }
      default:
        throw new KubeDecodeError(`${what}: unknown event type ${JSON.stringify(type)}`);
    }
  } catch (err) {
    if (err instanceof KubeDecodeError) return { type: 'ERROR', error: err };
    throw err;
  }
}

/**
 * What client-node's Watch reports at the end of a stream, made uniform: a clean end and its own
 * inactivity timeout are both "resume from the last resourceVersion" (undefined); an HTTP error
 * status becomes KubeApiError (410 included); anything else passes through as the cause.
 */
function watchEndError(err: unknown, what: string): unknown {
  if (err === null || err === undefined) return undefined;
  if (err instanceof Error && err.name === 'TimeoutError') return undefined;
  if (err instanceof Error && 'statusCode' in err && typeof err.statusCode === 'number') {
    return new KubeApiError(err.statusCode, undefined, `${what}: HTTP ${String(err.statusCode)} ${err.message}`, {
      cause: err,
    });
  }
  return err;
}
