/** The API group and version of meshguard's custom resources (crds/*.yaml). */
export const MESHGUARD_GROUP = 'meshguard.dev';
export const MESHGUARD_VERSION = 'v1alpha1';
export const MESHGUARD_API_VERSION = `${MESHGUARD_GROUP}/${MESHGUARD_VERSION}` as const;
export type MeshguardApiVersion = typeof MESHGUARD_API_VERSION;

/** Names of one kind, as registered by its CustomResourceDefinition. */
export interface ResourceNames {
  readonly kind: string;
  readonly listKind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  /** `<plural>.<group>`: the CRD's object name, and the stem of its file under crds/. */
  readonly crdName: string;
}

export const MESH_ORG_NAMES = {
  kind: 'MeshOrg',
  listKind: 'MeshOrgList',
  plural: 'meshorgs',
  singular: 'meshorg',
  shortNames: ['mo'],
  crdName: `meshorgs.${MESHGUARD_GROUP}`,
} as const satisfies ResourceNames;

export const MESH_NODE_NAMES = {
  kind: 'MeshNode',
  listKind: 'MeshNodeList',
  plural: 'meshnodes',
  singular: 'meshnode',
  shortNames: ['mn'],
  crdName: `meshnodes.${MESHGUARD_GROUP}`,
} as const satisfies ResourceNames;

/** Both kinds, MeshOrg first: MeshNodes refer to orgs, so orgs are installed and reconciled first. */
export const MESHGUARD_RESOURCES: readonly ResourceNames[] = [MESH_ORG_NAMES, MESH_NODE_NAMES];

/**
 * REST path of a collection or of one object (both kinds are cluster-scoped), with an optional
 * subresource such as `status`.
 */
export function meshResourcePath(names: ResourceNames, name?: string, subresource?: string): string {
  const collection = `/apis/${MESHGUARD_GROUP}/${MESHGUARD_VERSION}/${names.plural}`;
  if (name === undefined) return collection;
  const item = `${collection}/${encodeURIComponent(name)}`;
  return subresource === undefined ? item : `${item}/${subresource}`;
}
