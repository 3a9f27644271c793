import { KubeConfig } from '@kubernetes/client-node';

/** An explicit kubeconfig file, else client-node's default order: KUBECONFIG, in-cluster, ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path === undefined) kc.loadFromDefault();
  else kc.loadFromFile(path);
  return kc;
}
