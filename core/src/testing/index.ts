export * from './capability.js';
export * from './tree-snapshot.js';
export * from './spec-keys.js';
export * from './ip-bytes.js';
export * from './decode-assertions.js';
