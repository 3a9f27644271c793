import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@meshguard/core';
import {
  CONFIG_DIR_LABEL,
  ORG_LABEL,
  REVOKED_DIR,
  TRUSTED_ORGS_DIR,
  trustedOrgFileName,
  type KubeObject,
  type TrustConfigDir,
} from '@meshguard/core/kube';

/** The fields of a ConfigMap the agent reads. */
export interface TrustConfigMap extends KubeObject {
  readonly data?: Readonly<Record<string, string>>;
  readonly binaryData?: Readonly<Record<string, string>>;
}

export interface TrustFile {
  readonly dir: TrustConfigDir;
  readonly name: string;
  readonly content: Uint8Array;
}

/** A key becomes a file name: nothing that could leave its directory or hide as a dotfile. */
const SAFE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,250}$/;
const REVOCATION_FILE = /^[0-9a-f]{16}\.revoke$/;

/**
 * The files an org's trust ConfigMaps stand for (layout: core/kube trust-layout.ts). Anything
 * else (another org's objects, unexpected keys) is reported and skipped: the API server is a
 * source of trust data here, so what it serves is checked like a file dropped into the config
 * dir would be, and the decoders behind the TrustWatcher judge the contents.
 */
export function trustFilesOf(
  org: string,
  configMaps: readonly TrustConfigMap[],
): { readonly files: TrustFile[]; readonly problems: string[] } {
  const files: TrustFile[] = [];
  const problems: string[] = [];
  for (const cm of configMaps) {
    const labels = cm.metadata.labels ?? {};
    const what = `ConfigMap ${cm.metadata.name}`;
    if (labels[ORG_LABEL] !== org) continue;
    const dir = labels[CONFIG_DIR_LABEL];
    if (dir === TRUSTED_ORGS_DIR) {
      for (const [key, value] of Object.entries(cm.data ?? {})) {
        if (key !== trustedOrgFileName(org)) {
          problems.push(`${what}: ignoring key ${JSON.stringify(key)} (expected ${trustedOrgFileName(org)})`);
          continue;
        }
        files.push({ dir, name: key, content: Buffer.from(value, 'utf8') });
      }
    } else if (dir === REVOKED_DIR) {
      for (const [key, value] of Object.entries(cm.binaryData ?? {})) {
        if (!REVOCATION_FILE.test(key) || !SAFE_FILE_NAME.test(key)) {
          problems.push(`${what}: ignoring key ${JSON.stringify(key)} (not <hex16>.revoke)`);
          continue;
        }
        files.push({ dir, name: key, content: Buffer.from(value, 'base64') });
      }
    } else {
      problems.push(`${what}: unknown ${CONFIG_DIR_LABEL} label ${JSON.stringify(dir ?? '')}`);
    }
  }
  return { files, problems };
}

/**
 * Mirrors the API's view of an org's trust into the agent's config dir, which is also its cache
 * across restarts without the API. Files are written atomically and only when they differ.
 * The org's trusted_orgs file follows the API (a deleted MeshOrg stops being trusted); revocation
 * files are never removed here, because a revocation is forever and its ConfigMap vanishing (an
 * uninstall, a restore) must not readmit the node.
 */
export function syncTrustFiles(configDir: string, org: string, files: readonly TrustFile[]): { changed: number } {
  let changed = 0;
  for (const dir of [TRUSTED_ORGS_DIR, REVOKED_DIR]) mkdirSync(join(configDir, dir), { recursive: true, mode: 0o700 });
  for (const file of files) {
    const path = join(configDir, file.dir, file.name);
    let current: Uint8Array | undefined;
    try {
      current = readFileSync(path);
    } catch {
      current = undefined;
    }
    if (current !== undefined && Buffer.compare(current, file.content) === 0) continue;
    writeFileAtomic(path, file.content, { mode: 0o600 });
    changed++;
  }
  const orgFile = trustedOrgFileName(org);
  const keep = files.some((f) => f.dir === TRUSTED_ORGS_DIR && f.name === orgFile);
  if (!keep && readdirSync(join(configDir, TRUSTED_ORGS_DIR)).includes(orgFile)) {
    rmSync(join(configDir, TRUSTED_ORGS_DIR, orgFile));
    changed++;
  }
  return { changed };
}
