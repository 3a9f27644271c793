// Kubernetes plumbing and the meshguard.dev API types, shared by the operator and the in-cluster agent.
// A subpath of its own (`@meshguard/core/kube`): the standalone CLI never loads @kubernetes/client-node.
export * from './clock.js';
export * from './errors.js';
export * from './kube-object.js';
export * from './resource.js';
export * from './kube-client.js';
export * from './list-watcher.js';
export * from './informer.js';
export * from './api/condition.js';
export * from './api/field-error.js';
export * from './api/field-rules.js';
export * from './api/group.js';
export * from './api/json-fields.js';
export * from './api/mesh-node.js';
export * from './api/mesh-org.js';
export * from './api/resource-meta.js';
export * from './api/rule-messages.js';
export * from './api/type-meta.js';
export * from './api/validate-mesh-node.js';
export * from './api/validate-mesh-org.js';
export * from './api/trust-layout.js';
export * from './kube-config.js';
