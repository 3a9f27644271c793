import { KubeApiError, KubeTransportError } from '@meshguard/core/kube';
import type { LeaderElectionRecord, LeaseLock, VersionedRecord } from '../../src/controller/lease-lock.js';

/** One Lease object with the API server's optimistic concurrency, shared by several candidates. */
export class MemoryLease {
  record: LeaderElectionRecord | undefined;
  resourceVersion = 0;
  conflicts = 0;
  /** Writes that will find the version changed under them (another writer got in between). */
  injectConflicts = 0;

  /** An edit by someone else (kubectl, another controller): a new version. */
  overwrite(record: LeaderElectionRecord): void {
    this.record = record;
    this.resourceVersion++;
  }
}

/** One candidate's view of a MemoryLease; `partitioned` cuts that candidate off the API. */
export class MemoryLeaseLock implements LeaseLock {
  readonly description = 'memory lease';
  partitioned = false;
  readonly #lease: MemoryLease;

  constructor(lease: MemoryLease) {
    this.#lease = lease;
  }

  get(signal: AbortSignal): Promise<VersionedRecord | undefined> {
    return this.#op(signal, () => this.#current());
  }

  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord> {
    return this.#op(signal, () => {
      if (this.#lease.record !== undefined) {
        this.#lease.conflicts++;
        throw new KubeApiError(409, 'AlreadyExists', 'lease exists');
      }
      this.#lease.overwrite(record);
      return this.#current() as VersionedRecord;
    });
  }

  update(record: LeaderElectionRecord, resourceVersion: string, signal: AbortSignal): Promise<VersionedRecord> {
    return this.#op(signal, () => {
      if (this.#lease.injectConflicts > 0) {
        this.#lease.injectConflicts--;
        this.#lease.resourceVersion++;
      }
      if (String(this.#lease.resourceVersion) !== resourceVersion) {
        this.#lease.conflicts++;
        throw new KubeApiError(409, 'Conflict', 'the object has been modified');
      }
      this.#lease.overwrite(record);
      return this.#current() as VersionedRecord;
    });
  }

  #current(): VersionedRecord | undefined {
    const record = this.#lease.record;
    return record === undefined ? undefined : { record, resourceVersion: String(this.#lease.resourceVersion) };
  }

  /** Answers in a later microtask, like a network call; fails as a refused connection when partitioned. */
  async #op<R>(signal: AbortSignal, fn: () => R): Promise<R> {
    await Promise.resolve();
    if (signal.aborted) throw signal.reason;
    if (this.partitioned) throw new KubeTransportError('connection refused');
    return fn();
  }
}
