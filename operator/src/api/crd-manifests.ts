import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { DecodeError, MeshguardError, NotFoundError } from '@meshguard/core';
import {
  isJsonObject,
  MESHGUARD_GROUP,
  MESHGUARD_RESOURCES,
  MESHGUARD_VERSION,
  type ResourceNames,
} from '@meshguard/core/kube';

/** One CustomResourceDefinition file from crds/. */
export interface CrdManifest {
  readonly path: string;
  /** `<plural>.<group>`, the CRD's object name. */
  readonly name: string;
  /**
   * The file's text. It is a complete server-side apply body as is (Content-Type
   * application/apply-patch+yaml): the API server parses the YAML, so nothing is lost in between.
   */
  readonly yaml: string;
  /**
   * The same CRD as client-node's typed model (camelCase names such as xKubernetesValidations),
   * for its typed APIs, which serialize it back to the wire names. Not JSON wire form: do not
   * send it as a raw request body.
   */
  readonly definition: V1CustomResourceDefinition;
}

/**
 * crds/ at the repository root, found from this module's place (operator/dist/src/api/); an
 * image or chart with another layout passes its own directory.
 */
export function defaultCrdDirectory(): string {
  return fileURLToPath(new URL('../../../../crds/', import.meta.url));
}

export function crdFileName(names: ResourceNames): string {
  return `${names.crdName}.yaml`;
}

function expect(condition: boolean, path: string, what: string): asserts condition {
  if (!condition) throw new DecodeError(`${path}: ${what}`);
}

/**
 * Parses one CRD file and checks that it defines `names` in our group and version, so that a
 * wrong or stale file fails at load, not halfway through an install.
 */
export function parseCrdManifest(yaml: string, path: string, names: ResourceNames): CrdManifest {
  let documents: unknown[];
  try {
    documents = loadAllYaml(yaml);
  } catch (err) {
    throw new DecodeError(`${path}: not valid YAML: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  expect(documents.length === 1, path, `expected exactly one YAML document, found ${documents.length}`);
  const crd = documents[0];
  expect(isJsonObject(crd), path, 'not a YAML mapping');
  expect(crd['apiVersion'] === 'apiextensions.k8s.io/v1', path, 'apiVersion must be apiextensions.k8s.io/v1');
  expect(crd['kind'] === 'CustomResourceDefinition', path, 'kind must be CustomResourceDefinition');
  const definition = crd as unknown as V1CustomResourceDefinition;
  expect(definition.metadata?.name === names.crdName, path, `metadata.name must be ${names.crdName}`);
  const spec = definition.spec;
  expect(isJsonObject(spec), path, 'no spec');
  expect(spec.group === MESHGUARD_GROUP, path, `spec.group must be ${MESHGUARD_GROUP}`);
  expect(spec.scope === 'Cluster', path, 'spec.scope must be Cluster');
  expect(
    spec.names.kind === names.kind && spec.names.plural === names.plural && spec.names.singular === names.singular,
    path,
    `spec.names must name ${names.kind} (${names.plural})`,
  );
  expect(
    Array.isArray(spec.versions) &&
      spec.versions.some((v) => v.name === MESHGUARD_VERSION && v.served && v.storage && v.schema !== undefined),
    path,
    `no served storage version ${MESHGUARD_VERSION} with a schema`,
  );
  return { path, name: names.crdName, yaml, definition };
}

async function readManifest(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`CRD file ${path} not found`, { cause: err });
    throw new MeshguardError('io', `cannot read CRD file ${path}: ${code ?? String(err)}`, { cause: err });
  }
}

/** Both CRDs, MeshOrg first (the order to install them in). */
export async function loadCrdManifests(directory: string = defaultCrdDirectory()): Promise<CrdManifest[]> {
  return Promise.all(
    MESHGUARD_RESOURCES.map(async (names) => {
      const path = join(directory, crdFileName(names));
      return parseCrdManifest(await readManifest(path), path, names);
    }),
  );
}
