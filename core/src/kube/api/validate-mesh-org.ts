import type { FieldError } from './field-error.js';
import { ResourceValidationError } from './field-error.js';
import {
  durationProblem,
  durationSeconds,
  isDnsLabel,
  isDnsSubdomain,
  KEY_OVERLAP_BOUNDS,
  LIFETIME_BOUNDS,
  MAX_DNS_LABEL,
  MAX_DNS_SUBDOMAIN,
  MAX_DURATION_TEXT,
  RENEW_BEFORE_BOUNDS,
  type DurationBounds,
} from './field-rules.js';
import { MESH_ORG_NAMES } from './group.js';
import { JsonFields } from './json-fields.js';
import { CERTIFICATE_FORMATS, ENROLLMENT_POLICIES, MESH_ORG_DEFAULTS, type MeshOrg } from './mesh-org.js';
import { CelMessage } from './rule-messages.js';
import { checkTypeMeta, objectName } from './type-meta.js';

const MAX_DISPLAY_NAME = 64;
const MAX_ALIAS = 32;

function duration(fields: JsonFields, key: string, bounds: DurationBounds): string | undefined {
  const text = fields.string(key, { maxLength: MAX_DURATION_TEXT });
  if (text === undefined) return undefined;
  const problem = durationProblem(text, bounds);
  if (problem === null) return text;
  fields.error(key, 'invalid', problem);
  return undefined;
}

function validateSpec(spec: JsonFields): void {
  spec.string('displayName', { maxLength: MAX_DISPLAY_NAME });
  const alias = spec.string('dnsAlias', { maxLength: MAX_ALIAS });
  if (alias !== undefined && !isDnsLabel(alias, MAX_ALIAS)) spec.error('dnsAlias', 'invalid', CelMessage.dnsLabel32);

  const certificate = spec.object('certificate');
  certificate?.enumeration('format', CERTIFICATE_FORMATS);
  const lifetime = certificate === undefined ? undefined : duration(certificate, 'lifetime', LIFETIME_BOUNDS);

  spec.enumeration('enrollmentPolicy', ENROLLMENT_POLICIES);

  const secret = spec.object('keySecretRef');
  if (secret !== undefined) {
    const name = secret.string('name', { required: true, maxLength: MAX_DNS_SUBDOMAIN });
    if (name !== undefined && !isDnsSubdomain(name)) secret.error('name', 'invalid', CelMessage.secretName);
    const namespace = secret.string('namespace', { required: true, maxLength: MAX_DNS_LABEL });
    if (namespace !== undefined && !isDnsLabel(namespace))
      secret.error('namespace', 'invalid', CelMessage.secretNamespace);
  }

  const rotation = spec.object('rotation');
  if (rotation === undefined) return;
  const renewBefore = duration(rotation, 'renewBefore', RENEW_BEFORE_BOUNDS);
  duration(rotation, 'keyOverlap', KEY_OVERLAP_BOUNDS);
  // Compared with the lifetime the API server would default, so a manifest is judged as it will be stored.
  const lifetimeText = certificate?.has('lifetime') === true ? lifetime : MESH_ORG_DEFAULTS.lifetime;
  if (renewBefore !== undefined && lifetimeText !== undefined) {
    const renew = durationSeconds(renewBefore);
    const life = durationSeconds(lifetimeText);
    if (renew !== null && life !== null && renew >= life) {
      rotation.error('renewBefore', 'invalid', CelMessage.renewBeforeLifetime);
    }
  }
}

/**
 * Every rule of crds/meshorgs.meshguard.dev.yaml, applied to any JSON value; never throws. An
 * empty list means the API server would accept the object (status is not checked: it is the
 * operator's own output).
 */
export function validateMeshOrg(value: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const root = JsonFields.root(value, errors);
  if (root === undefined) return errors;
  checkTypeMeta(root, MESH_ORG_NAMES.kind);
  const metadata = root.object('metadata', true);
  const name = metadata?.string('name', { required: true, maxLength: MAX_DNS_LABEL });
  if (name !== undefined && !isDnsLabel(name)) metadata?.error('name', 'invalid', CelMessage.orgName);
  // The CRD defaults a missing spec to {}.
  const spec = root.object('spec');
  if (spec !== undefined) validateSpec(spec);
  return errors;
}

/** The value as a MeshOrg, or a ResourceValidationError listing every problem. */
export function parseMeshOrg(value: unknown): MeshOrg {
  const errors = validateMeshOrg(value);
  if (errors.length > 0) throw new ResourceValidationError(MESH_ORG_NAMES.kind, objectName(value), errors);
  const org = value as Omit<MeshOrg, 'spec'> & { readonly spec?: MeshOrg['spec'] };
  return { ...org, spec: org.spec ?? {} };
}
