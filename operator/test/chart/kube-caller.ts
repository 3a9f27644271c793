import { request } from 'node:https';
import type { KubeCluster } from '../support/kube-cluster.js';

// Requests to the test cluster's API server as someone other than its admin: impersonating a
// ServiceAccount (with the user extras a pod-bound token would carry), or with a bearer token.

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export interface Impersonation {
  readonly user: string;
  readonly groups?: readonly string[];
  /** User extras, e.g. { 'authentication.kubernetes.io/node-name': ['node-a'] }. */
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** Who sends a request: the admin (default), the admin impersonating someone, or a bearer token. */
export type Caller = { readonly impersonate: Impersonation } | { readonly token: string } | undefined;

export interface CallResponse {
  readonly status: number;
  readonly body: string;
}

/** The ServiceAccount's user as the API server authenticates it, with the groups a token carries. */
export function serviceAccountUser(namespace: string, name: string, nodeName?: string): Impersonation {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
    ...(nodeName !== undefined && { extra: { 'authentication.kubernetes.io/node-name': [nodeName] } }),
  };
}

function impersonationHeaders(who: Impersonation): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = { 'impersonate-user': who.user };
  if (who.groups !== undefined && who.groups.length > 0) headers['impersonate-group'] = [...who.groups];
  for (const [key, values] of Object.entries(who.extra ?? {})) {
    // Header names cannot carry '/': the API server unescapes the key (RFC 3986 percent-encoding).
    headers[`impersonate-extra-${encodeURIComponent(key)}`] = [...values];
  }
  return headers;
}

/**
 * One request. A string body is sent as is (YAML for server-side apply), anything else as JSON.
 * Never throws for an HTTP status: callers assert on it.
 */
export function call(
  cluster: KubeCluster,
  method: string,
  path: string,
  options: { readonly body?: unknown; readonly contentType?: string; readonly as?: Caller } = {},
): Promise<CallResponse> {
  const { body, contentType = CONTENT_TYPE.json, as } = options;
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const token = as !== undefined && 'token' in as ? as.token : undefined;
  const headers: Record<string, string | string[] | number> = {
    accept: 'application/json',
    ...(as !== undefined && 'impersonate' in as && impersonationHeaders(as.impersonate)),
    ...(token !== undefined && { authorization: `Bearer ${token}` }),
    ...(payload !== undefined && { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) }),
  };
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, cluster.server),
      {
        method,
        ca: cluster.admin.ca,
        // A token request must not present the admin certificate as well: the API server would
        // authenticate the certificate first.
        ...(token === undefined && { cert: cluster.admin.cert, key: cluster.admin.key }),
        timeout: 15_000,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The `message` of a Status body, or the body itself. */
export function statusMessage(res: CallResponse): string {
  try {
    const parsed = JSON.parse(res.body) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : res.body;
  } catch {
    return res.body;
  }
}

interface ApiResource {
  readonly prefix: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

/** Every kind the chart renders; a new kind must be added here to be applied by the tests. */
const RESOURCES: Readonly<Record<string, ApiResource>> = {
  'v1/ServiceAccount': { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  'v1/Service': { prefix: '/api/v1', plural: 'services', namespaced: true },
  'apps/v1/DaemonSet': { prefix: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
  'apps/v1/Deployment': { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterroles',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
  },
  'rbac.authorization.k8s.io/v1/Role': {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'roles',
    namespaced: true,
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    prefix: '/apis/rbac.authorization.k8s.io/v1',
    plural: 'rolebindings',
    namespaced: true,
  },
  'apiextensions.k8s.io/v1/CustomResourceDefinition': {
    prefix: '/apis/apiextensions.k8s.io/v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': {
    prefix: '/apis/admissionregistration.k8s.io/v1',
    plural: 'validatingadmissionpolicies',
    namespaced: false,
  },
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': {
    prefix: '/apis/admissionregistration.k8s.io/v1',
    plural: 'validatingadmissionpolicybindings',
    namespaced: false,
  },
};

/** The object's path, for server-side apply. */
export function objectPath(object: {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
}): string {
  const resource = RESOURCES[`${object.apiVersion}/${object.kind}`];
  if (resource === undefined) throw new Error(`no API path known for ${object.apiVersion} ${object.kind}`);
  if (resource.namespaced !== (object.namespace !== undefined)) {
    throw new Error(
      `${object.kind}/${object.name}: namespace ${String(object.namespace)} for a ${resource.namespaced ? 'namespaced' : 'cluster-scoped'} kind`,
    );
  }
  const scope = object.namespace === undefined ? '' : `/namespaces/${object.namespace}`;
  return `${resource.prefix}${scope}/${resource.plural}/${object.name}`;
}
