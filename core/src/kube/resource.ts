import { ArgumentError } from '../index.js';

/**
 * Which API resource a client addresses. The plural is given rather than discovered: discovery
 * costs a request per group-version, goes stale when a CRD is installed after it ran, and every
 * caller here knows its resources at compile time.
 */
export interface ResourceRef {
  /** `v1` for the core group, else `group/version` (`coordination.k8s.io/v1`, `meshguard.io/v1alpha1`). */
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;

/**
 * The collection path (`namespace` given: one namespace; omitted for a namespaced kind: all
 * namespaces) or, with `name`, one object's path. Segments are checked, not escaped: a name that
 * needs escaping is not a valid Kubernetes name and must not reach the API server as a path.
 */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string): string {
  if (!API_VERSION.test(ref.apiVersion))
    throw new ArgumentError(`invalid apiVersion ${JSON.stringify(ref.apiVersion)}`);
  if (!DNS_LABEL.test(ref.plural)) throw new ArgumentError(`invalid resource plural ${JSON.stringify(ref.plural)}`);
  if (!ref.namespaced && namespace !== undefined) {
    throw new ArgumentError(`${ref.kind} is cluster-scoped; no namespace may be given`);
  }
  if (ref.namespaced && name !== undefined && namespace === undefined) {
    throw new ArgumentError(`${ref.kind} is namespaced; reading one object needs its namespace`);
  }
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) {
    throw new ArgumentError(`invalid namespace ${JSON.stringify(namespace)}`);
  }
  if (name !== undefined && !/^[a-zA-Z0-9]([-a-zA-Z0-9._:]*[a-zA-Z0-9])?$/.test(name)) {
    throw new ArgumentError(`invalid object name ${JSON.stringify(name)}`);
  }
  const group = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
  const scope = namespace === undefined ? '' : `/namespaces/${namespace}`;
  return `${group}${scope}/${ref.plural}${name === undefined ? '' : `/${name}`}`;
}

export const configMapResource: ResourceRef = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
};
export const secretResource: ResourceRef = { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
export const leaseResource: ResourceRef = {
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
};
