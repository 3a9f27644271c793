import { MeshguardError } from '@meshguard/core';

/** The kernel refused a TUN operation (open, configure, read, write); `errno` names why, e.g. 'EPERM'. */
export class TunError extends MeshguardError {
  readonly errno: string | null;
  constructor(message: string, errno: string | null = null, options?: ErrorOptions) {
    super('io', message, options);
    this.errno = errno;
  }
}
