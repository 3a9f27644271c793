export * from './service-rule.js';
export * from './packet-classifier.js';
export * from './service-policy.js';
export * from './policy-store.js';
