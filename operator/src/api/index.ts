// The operator's view of the meshguard.dev API: kinds, validation, conditions, CRD manifests.
export * from './crd-manifests.js';
