export * from './capability.js';
