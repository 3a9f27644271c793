import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dumpYaml, loadYaml } from '@kubernetes/client-node';
import { DecodeError, NotFoundError } from '@meshguard/core';
import {
  CelMessage,
  CERTIFICATE_FORMATS,
  ENROLLMENT_POLICIES,
  MESH_NODE_NAMES,
  MESH_ORG_DEFAULTS,
  MESH_ORG_NAMES,
  REVOCATION_REASONS,
  SERVICE_ACTIONS,
  SERVICE_PROTOCOLS,
} from '@meshguard/core/kube';
import { loadCrdManifests, parseCrdManifest, type CrdManifest } from '../../src/api/index.js';

type Json = Record<string, unknown>;

/**
 * The YAML as plain JSON, with the wire names (x-kubernetes-validations, default). client-node
 * converts only documents with apiVersion and kind to its models, so a document nested in a
 * list comes back untouched: a raw parse without a YAML dependency of our own.
 */
function rawYaml(text: string): Json {
  const nested = `-\n${text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')}`;
  return loadYaml<Json[]>(nested)[0]!;
}

function at(value: unknown, ...path: (string | number)[]): unknown {
  let v = value;
  for (const key of path) v = (v as Record<string | number, unknown> | undefined)?.[key];
  return v;
}

/** The openAPIV3Schema of the (only) version. */
function schemaOf(manifest: CrdManifest): Json {
  return at(rawYaml(manifest.yaml), 'spec', 'versions', 0, 'schema', 'openAPIV3Schema') as Json;
}

function property(schema: Json, ...path: string[]): Json {
  let s: unknown = schema;
  for (const key of path) s = key === '[]' ? at(s, 'items') : at(s, 'properties', key);
  assert.ok(s !== undefined, `no schema at ${path.join('.')}`);
  return s as Json;
}

/** Every x-kubernetes-validations message anywhere in the schema. */
function celMessages(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(celMessages);
  if (typeof value !== 'object' || value === null) return [];
  const own = (value as Json)['x-kubernetes-validations'];
  const messages = Array.isArray(own) ? own.map((rule) => String((rule as Json)['message'])) : [];
  return [...messages, ...Object.values(value).flatMap(celMessages)];
}

const manifests = await loadCrdManifests();
const [orgCrd, nodeCrd] = manifests as [CrdManifest, CrdManifest];

describe('CRD manifests', () => {
  it('loads both CRDs from crds/, MeshOrg first', () => {
    assert.deepEqual(
      manifests.map((m) => m.name),
      ['meshorgs.meshguard.dev', 'meshnodes.meshguard.dev'],
    );
    for (const m of manifests) assert.match(m.path, /\/crds\/mesh(org|node)s\.meshguard\.dev\.yaml$/);
  });

  it('registers the names, short names and scope the operator uses', () => {
    for (const [m, names] of [
      [orgCrd, MESH_ORG_NAMES],
      [nodeCrd, MESH_NODE_NAMES],
    ] as const) {
      const spec = m.definition.spec;
      assert.equal(spec.group, 'meshguard.dev');
      assert.equal(spec.scope, 'Cluster');
      assert.equal(spec.names.kind, names.kind);
      assert.equal(spec.names.listKind, names.listKind);
      assert.deepEqual(spec.names.shortNames, names.shortNames);
      assert.deepEqual(spec.names.categories, ['meshguard']);
      const [version] = spec.versions;
      assert.ok(spec.versions.length === 1 && version !== undefined);
      assert.equal(version.name, 'v1alpha1');
      assert.deepEqual(version.subresources?.status, {});
    }
  });

  it('prints the columns kubectl get shows', () => {
    const columns = (m: CrdManifest): string[] =>
      (m.definition.spec.versions[0]?.additionalPrinterColumns ?? []).filter((c) => !c.priority).map((c) => c.name);
    assert.deepEqual(columns(orgCrd), ['Domain', 'Public Key', 'Nodes', 'Ready', 'Age']);
    assert.deepEqual(columns(nodeCrd), ['Org', 'Node', 'External', 'Mesh IPv4', 'Ready', 'Expires', 'Age']);
  });

  it('client-node typed model holds the whole file (nothing dropped on the way back to YAML)', () => {
    for (const m of manifests) assert.deepEqual(rawYaml(dumpYaml(m.definition)), rawYaml(m.yaml), m.name);
  });

  it('has the same enumerations as the TypeScript types', () => {
    const org = schemaOf(orgCrd);
    const node = schemaOf(nodeCrd);
    const enumAt = (schema: Json, ...path: string[]): unknown => property(schema, ...path)['enum'];
    assert.deepEqual(enumAt(org, 'spec', 'certificate', 'format'), CERTIFICATE_FORMATS);
    assert.deepEqual(enumAt(org, 'spec', 'enrollmentPolicy'), ENROLLMENT_POLICIES);
    assert.deepEqual(enumAt(node, 'spec', 'revocationReason'), REVOCATION_REASONS);
    assert.deepEqual(enumAt(node, 'status', 'revocation', 'reason'), REVOCATION_REASONS);
    assert.deepEqual(enumAt(node, 'spec', 'servicePolicy', 'defaultAction'), SERVICE_ACTIONS);
    assert.deepEqual(enumAt(node, 'spec', 'servicePolicy', 'rules', '[]', 'action'), SERVICE_ACTIONS);
    assert.deepEqual(enumAt(node, 'spec', 'servicePolicy', 'rules', '[]', 'protocol'), SERVICE_PROTOCOLS);
  });

  it('has the defaults the operator assumes for objects not yet stored', () => {
    const org = schemaOf(orgCrd);
    const defaultAt = (...path: string[]): unknown => property(org, ...path)['default'];
    assert.equal(defaultAt('spec', 'certificate', 'format'), MESH_ORG_DEFAULTS.certificateFormat);
    assert.equal(defaultAt('spec', 'certificate', 'lifetime'), MESH_ORG_DEFAULTS.lifetime);
    assert.equal(defaultAt('spec', 'enrollmentPolicy'), MESH_ORG_DEFAULTS.enrollmentPolicy);
    assert.equal(defaultAt('spec', 'rotation', 'keyOverlap'), MESH_ORG_DEFAULTS.keyOverlap);
  });

  it('words every CEL rule as the TypeScript validators do, and the other way round', () => {
    const inCrds = new Set([...celMessages(schemaOf(orgCrd)), ...celMessages(schemaOf(nodeCrd))]);
    const inCode = new Set<string>(Object.values(CelMessage));
    assert.deepEqual(
      [...inCrds].filter((m) => !inCode.has(m)),
      [],
      'CRD messages missing from CelMessage',
    );
    assert.deepEqual(
      [...inCode].filter((m) => !inCrds.has(m)),
      [],
      'CelMessage entries no CRD uses',
    );
  });

  it('refuses a missing directory with NotFoundError and a wrong file with DecodeError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-crds-'));
    try {
      await assert.rejects(loadCrdManifests(dir), NotFoundError);
      writeFileSync(join(dir, 'meshorgs.meshguard.dev.yaml'), nodeCrd.yaml);
      writeFileSync(join(dir, 'meshnodes.meshguard.dev.yaml'), nodeCrd.yaml);
      await assert.rejects(loadCrdManifests(dir), (err: unknown) => {
        assert.ok(err instanceof DecodeError);
        assert.match(err.message, /meshorgs\.meshguard\.dev\.yaml: metadata\.name must be meshorgs\.meshguard\.dev/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const refuse = (yaml: string, pattern: RegExp): void => {
      assert.throws(
        () => parseCrdManifest(yaml, 'x.yaml', MESH_ORG_NAMES),
        (err: unknown) => {
          assert.ok(err instanceof DecodeError, String(err));
          assert.match(err.message, pattern);
          return true;
        },
      );
    };
    refuse(`${orgCrd.yaml}\n---\n${nodeCrd.yaml}`, /exactly one YAML document, found 2/);
    refuse('a: [unclosed', /not valid YAML/);
    refuse('- 1\n', /not a YAML mapping/);
    refuse(orgCrd.yaml.replace('scope: Cluster', 'scope: Namespaced'), /spec\.scope must be Cluster/);
    refuse(orgCrd.yaml.replace('group: meshguard.dev', 'group: example.com'), /spec\.group must be meshguard\.dev/);
    refuse(orgCrd.yaml.replace('storage: true', 'storage: false'), /no served storage version v1alpha1/);
  });
});
