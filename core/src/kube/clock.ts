/**
 * Time as the controller plumbing sees it. Queue backoff, informer watchdogs and leader election
 * all wait on timers; taking them from here lets unit tests drive a fake clock deterministically
 * instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch; never steps back (leases also write it as wall time). */
  now(): number;
  /** Calls `fn` once after `delayMs`; the returned function cancels it (a no-op once it has run). */
  setTimer(fn: () => void, delayMs: number): () => void;
}

/**
 * Epoch-based but monotonic: performance.timeOrigin is fixed at process start, so an NTP step of
 * the wall clock cannot make a backoff or a lease expiry jump.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (fn, delayMs) => {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return () => {
      clearTimeout(timer);
    };
  },
};

/**
 * Resolves after `delayMs` on `clock`, or early (without rejecting) when `signal` aborts: callers
 * check the signal afterwards, which keeps loops free of try/catch around every wait.
 */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    let cancel = (): void => undefined;
    const done = (): void => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    cancel = clock.setTimer(done, delayMs);
  });
}
