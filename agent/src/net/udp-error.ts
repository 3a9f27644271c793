import { ArgumentError, MeshguardError } from '@meshguard/core';

/** The kernel refused a UDP socket operation (bind, receive, send); `errno` names why, e.g. 'EADDRINUSE'. */
export class UdpError extends MeshguardError {
  readonly errno: string | null;
  constructor(message: string, errno: string | null = null, options?: ErrorOptions) {
    super('io', message, options);
    this.errno = errno;
  }
}

/**
 * The addon throws plain Errors with an errno `code` for kernel failures and TypeError/RangeError
 * for arguments it refuses; callers get a UdpError or an ArgumentError instead. Anything else
 * (which would be a bug here) passes through unchanged.
 */
export function asUdpError(err: unknown, context: string): unknown {
  if (err instanceof TypeError || err instanceof RangeError) {
    return new ArgumentError(`${context}: ${err.message}`, { cause: err });
  }
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string' || !err.code.startsWith('E')) {
    return err;
  }
  return new UdpError(`${context}: ${err.message}`, err.code, { cause: err });
}
