// The controller plumbing the operator's reconcilers run on (DESIGN.md §7, §11).
export * from './clock.js';
export * from './errors.js';
export * from './kube-object.js';
export * from './resource.js';
export * from './kube-client.js';
export * from './rate-limiter.js';
export * from './work-queue.js';
export * from './list-watcher.js';
export * from './informer.js';
export * from './enqueue.js';
export * from './lease-lock.js';
export * from './leader-election.js';
export * from './reconciler.js';
export * from './event-recorder.js';
