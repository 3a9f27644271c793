// The operator's view of the meshguard.dev API: kinds, validation, conditions, CRD manifests.
export * from './group.js';
export * from './resource-meta.js';
export * from './condition.js';
export * from './field-error.js';
export * from './rule-messages.js';
export * from './field-rules.js';
export * from './mesh-org.js';
export * from './mesh-node.js';
export * from './validate-mesh-org.js';
export * from './validate-mesh-node.js';
export * from './crd-manifests.js';
