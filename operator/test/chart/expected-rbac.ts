// The RBAC rules the chart must grant, and not one verb more. Each line names the code that
// needs it; a change in what the operator or agent calls changes this list and the chart together.

export interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** ClusterRole of the operator: cluster-scoped kinds only. */
export const OPERATOR_CLUSTER_RULES: readonly Rule[] = [
  // wiring/mesh-controllers.ts informers; reconcilers read one MeshOrg (getOptional/readObject).
  { apiGroups: ['meshguard.dev'], resources: ['meshorgs'], verbs: ['get', 'list', 'watch'] },
  // + mesh-node-reconciler.ts #setFinalizers: merge patch of metadata.finalizers.
  { apiGroups: ['meshguard.dev'], resources: ['meshnodes'], verbs: ['get', 'list', 'watch', 'patch'] },
  // status-patch.ts patchStatus: merge patch of the status subresource.
  { apiGroups: ['meshguard.dev'], resources: ['meshorgs/status', 'meshnodes/status'], verbs: ['patch'] },
  // wiring: Node metadata informer; mesh-node-reconciler.ts: AutoInCluster reads the Node.
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
];

/** Role of the operator in the release namespace. */
export const OPERATOR_NAMESPACE_RULES: readonly Rule[] = [
  // trust-configmap.ts: read, list shards by label, create, replace (PUT with resourceVersion).
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'create', 'update'] },
  // org-key-secret.ts: loadOrgKey (get), ensureOrgKey (create); never list, never update.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create'] },
  // controller/lease-lock.ts: create, then get and replace its own Lease.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    resourceNames: ['meshguard-operator'],
    verbs: ['get', 'update'],
  },
];

/** Role of the operator in `default`, where Events about cluster-scoped objects go. */
export const OPERATOR_EVENT_RULES: readonly Rule[] = [
  // controller/event-recorder.ts: POST a new Event, PATCH its series.
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/** ClusterRole of the agent. */
export const AGENT_CLUSTER_RULES: readonly Rule[] = [
  // Its own MeshNode by server-side apply (create, patch), all MeshNodes for seeds.
  { apiGroups: ['meshguard.dev'], resources: ['meshnodes'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  // status.endpoint and status.lastSeen.
  { apiGroups: ['meshguard.dev'], resources: ['meshnodes/status'], verbs: ['patch'] },
  { apiGroups: ['meshguard.dev'], resources: ['meshorgs'], verbs: ['get', 'list', 'watch'] },
];

/** Role of the agent in the release namespace: the trust ConfigMaps. */
export const AGENT_NAMESPACE_RULES: readonly Rule[] = [
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] },
];

/** Verbs nothing in this chart may hold. */
export const FORBIDDEN_VERBS = ['*', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate'] as const;
