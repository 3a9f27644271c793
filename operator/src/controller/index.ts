// The controller plumbing the operator's reconcilers run on (DESIGN.md §7, §11).
export * from './rate-limiter.js';
export * from './work-queue.js';
export * from './enqueue.js';
export * from './lease-lock.js';
export * from './leader-election.js';
export * from './reconciler.js';
export * from './event-recorder.js';
