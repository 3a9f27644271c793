export * from './capability.js';
export * from './tree-snapshot.js';
