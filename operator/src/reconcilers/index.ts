// The operator's reconcilers: MeshOrg (key, trust ConfigMap, status) and MeshNode (approval,
// certificates, revocation), built on controller/ and the API types of api/.
export * from './kube-api.js';
export * from './labels.js';
export * from './org-key-secret.js';
export * from './trust-configmap.js';
export * from './status-patch.js';
export * from './certificate-plan.js';
export * from './mesh-org-reconciler.js';
export * from './mesh-node-reconciler.js';
