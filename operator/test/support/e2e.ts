// What the cross-package end-to-end tests (test-e2e/) use from the operator's test support.
export { KubeCluster, kubeAvailability, kubectlPath, type KubeAvailability } from './kube-cluster.js';
export { installCrds } from '../reconcilers/cluster-fixture.js';
export { OperatorProcess } from '../wiring/operator-process.js';
export { helmAvailability, renderChart, type RenderedObject } from '../chart/helm.js';
