export * from './capability.js';
export * from './tree-snapshot.js';
export * from './spec-keys.js';
