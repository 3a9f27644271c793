// How the operator publishes an org's trust for in-cluster agents (the operator writes these
// objects, the agent list-watches them): ConfigMaps in the operator's namespace, labelled with
// their org and the config-dir directory their keys are files of.

/** On every object the operator creates for an org. */
export const ORG_LABEL = 'meshguard.dev/org';
/** The config-dir directory (spec §1.2) a trust ConfigMap's keys are files of. */
export const CONFIG_DIR_LABEL = 'meshguard.dev/config-dir';
export const TRUSTED_ORGS_DIR = 'trusted_orgs';
export const REVOKED_DIR = 'revoked';
export type TrustConfigDir = typeof TRUSTED_ORGS_DIR | typeof REVOKED_DIR;

/** data `<org>.org` → trusted_orgs/<org>.org */
export function trustConfigMapName(org: string): string {
  return `meshguard-trust-${org}`;
}

/** binaryData `<hex16>.revoke` → revoked/<hex16>.revoke, in shards of at most ~900 KiB. */
export function revokedConfigMapName(org: string, shard: number): string {
  return shard === 0 ? `meshguard-revoked-${org}` : `meshguard-revoked-${org}-${shard}`;
}

export function trustedOrgFileName(org: string): string {
  return `${org}.org`;
}
