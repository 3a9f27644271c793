import {
  isNotFound,
  isRecord,
  type KubeClient,
  KubeDecodeError,
  leaseResource,
  resourcePath,
} from '@meshguard/core/kube';

/** The lease fields leader election reads and writes (client-go's LeaderElectionRecord). */
export interface LeaderElectionRecord {
  /** Empty when released: any candidate may take it at once. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  /** metav1.MicroTime text; informational, expiry is judged by local observation time. */
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions: number;
}

export interface VersionedRecord {
  readonly record: LeaderElectionRecord;
  readonly resourceVersion: string;
}

/**
 * Where the record lives. Writes are conditional on resourceVersion (optimistic concurrency):
 * a create of an existing lock and an update from a stale version both fail with a 409
 * KubeApiError, which is how two candidates racing for the same lease are told apart.
 */
export interface LeaseLock {
  readonly description: string;
  /** undefined: no lock object yet. */
  get(signal: AbortSignal): Promise<VersionedRecord | undefined>;
  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord>;
  update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<VersionedRecord>;
}

/**
 * metav1.MicroTime: RFC 3339 with exactly six fractional digits. The API server rejects the
 * three digits Date#toISOString gives, which is also why leases are written as plain JSON here
 * rather than through client-node's typed V1Lease (whose timestamps come back as strings typed
 * as Date).
 */
export function microTime(epochMs: number): string {
  return new Date(Math.floor(epochMs)).toISOString().replace(/Z$/, '000Z');
}

/** A coordination.k8s.io/v1 Lease, read and written as JSON through KubeClient. */
export class KubeLeaseLock implements LeaseLock {
  readonly description: string;
  readonly #client: KubeClient;
  readonly #namespace: string;
  readonly #name: string;
  readonly #collection: string;
  readonly #path: string;
  // Fields of the object other than the spec (labels, annotations, owner references someone
  // added) are written back as they were read, so a lease update never strips them.
  #lastSeen: Record<string, unknown> | undefined;

  constructor(client: KubeClient, namespace: string, name: string) {
    this.#client = client;
    this.#namespace = namespace;
    this.#name = name;
    this.#collection = resourcePath(leaseResource, namespace);
    this.#path = resourcePath(leaseResource, namespace, name);
    this.description = `Lease ${namespace}/${name}`;
  }

  async get(signal: AbortSignal): Promise<VersionedRecord | undefined> {
    let body: unknown;
    try {
      body = await this.#client.request('GET', this.#path, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return this.#decode(body);
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord> {
    const body = await this.#client.request('POST', this.#collection, {
      body: {
        apiVersion: leaseResource.apiVersion,
        kind: leaseResource.kind,
        metadata: { name: this.#name, namespace: this.#namespace },
        spec: specOf(record),
      },
      signal,
    });
    return this.#decode(body);
  }

  async update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<VersionedRecord> {
    const base = this.#lastSeen ?? { metadata: { name: this.#name, namespace: this.#namespace } };
    const metadata = isRecord(base['metadata']) ? base['metadata'] : {};
    const body = await this.#client.request('PUT', this.#path, {
      body: {
        ...base,
        apiVersion: leaseResource.apiVersion,
        kind: leaseResource.kind,
        metadata: { ...metadata, name: this.#name, namespace: this.#namespace, resourceVersion },
        spec: specOf(record),
      },
      signal,
    });
    return this.#decode(body);
  }

  #decode(body: unknown): VersionedRecord {
    const what = this.description;
    if (!isRecord(body) || !isRecord(body['metadata'])) throw new KubeDecodeError(`${what}: not an object`);
    const resourceVersion = body['metadata']['resourceVersion'];
    if (typeof resourceVersion !== 'string') throw new KubeDecodeError(`${what}: no resourceVersion`);
    const spec = isRecord(body['spec']) ? body['spec'] : {};
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined);
    const acquireTime = str(spec['acquireTime']);
    const renewTime = str(spec['renewTime']);
    this.#lastSeen = body;
    return {
      resourceVersion,
      record: {
        holderIdentity: str(spec['holderIdentity']) ?? '',
        leaseDurationSeconds: int(spec['leaseDurationSeconds']) ?? 0,
        ...(acquireTime !== undefined && { acquireTime }),
        ...(renewTime !== undefined && { renewTime }),
        leaseTransitions: int(spec['leaseTransitions']) ?? 0,
      },
    };
  }
}

function specOf(record: LeaderElectionRecord): Record<string, unknown> {
  return {
    // Empty on release, written out as client-go does rather than omitted.
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    ...(record.acquireTime !== undefined && { acquireTime: record.acquireTime }),
    ...(record.renewTime !== undefined && { renewTime: record.renewTime }),
    leaseTransitions: record.leaseTransitions,
  };
}
