import { ORG_LABEL } from '@meshguard/core/kube';

export { ORG_LABEL };

/** Labels on every object the reconcilers create, so they can be listed per org and traced to us. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'meshguard-operator';

export function managedLabels(org: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [ORG_LABEL]: org };
}

/** The finalizer that makes deleting a MeshNode publish its revocation first. */
export const REVOKE_FINALIZER = 'meshguard.dev/revoke';
