import { MAX_SERVICE_RULES, PolicyError } from '../../index.js';
import type { FieldError } from './field-error.js';
import { ResourceValidationError } from './field-error.js';
import {
  durationProblem,
  identityKeyProblem,
  isDnsLabel,
  isDnsSubdomain,
  KEY_TEXT_LENGTH,
  LIFETIME_BOUNDS,
  MAX_DNS_LABEL,
  MAX_DNS_SUBDOMAIN,
  MAX_DURATION_TEXT,
  nodeNameProblem,
  wireguardKeyProblem,
} from './field-rules.js';
import { MESH_NODE_NAMES } from './group.js';
import { JsonFields } from './json-fields.js';
import type { CertificateFormat } from './mesh-org.js';
import {
  REVOCATION_REASONS,
  SERVICE_ACTIONS,
  SERVICE_PROTOCOLS,
  toServiceRule,
  type MeshNode,
  type ServicePolicyRule,
} from './mesh-node.js';
import { CelMessage, DepthMessage } from './rule-messages.js';
import { checkTypeMeta, objectName } from './type-meta.js';

export interface MeshNodeValidationOptions {
  /** The stored object this one replaces: turns on the immutability rules (CEL's oldSelf rules). */
  readonly previous?: unknown;
  /**
   * The format the node's org issues. With `v2`, spec.wireguardPublicKey is required: a rule
   * across two objects, which the CRD cannot state. Unset: not checked.
   */
  readonly certificateFormat?: CertificateFormat;
}

const MAX_NODE_OBJECT_NAME = MAX_DNS_SUBDOMAIN;
const MAX_PORTS_TEXT = 11;
const PORTS_TEXT = /^[0-9]{1,5}(-[0-9]{1,5})?$/;

/** The CRD's three ports rules; like the API server, every rule that fails is reported. */
function portsProblems(ports: number | string): string[] {
  if (typeof ports === 'number') return ports >= 0 && ports <= 0xffff ? [] : [CelMessage.portsRange];
  if (ports === 'all') return [];
  if (!PORTS_TEXT.test(ports)) return [CelMessage.portsSyntax];
  const [low = 0, high = low] = ports.split('-').map(Number);
  const problems: string[] = [];
  if (low > 0xffff || high > 0xffff) problems.push(CelMessage.portsRange);
  if (low > high) problems.push(CelMessage.portsOrder);
  return problems;
}

function validateRule(rule: JsonFields): void {
  const action = rule.enumeration('action', SERVICE_ACTIONS, true);
  const protocol = rule.enumeration('protocol', SERVICE_PROTOCOLS);
  const raw = rule.raw('ports');
  let ports: number | string | undefined;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw)) rule.error('ports', 'type', 'must be an integer or a string');
    else ports = raw;
  } else if (typeof raw === 'string') {
    if (raw.length > MAX_PORTS_TEXT)
      rule.error('ports', 'too-long', `Too long: may not be more than ${MAX_PORTS_TEXT} bytes`);
    else ports = raw;
  } else if (raw !== undefined) {
    rule.error('ports', 'type', 'must be an integer or a string');
  }
  const problems = ports === undefined ? [] : portsProblems(ports);
  for (const problem of problems) rule.error('ports', 'invalid', problem);
  if (problems.length > 0) return;
  if (
    action === undefined ||
    (rule.has('protocol') && protocol === undefined) ||
    (raw !== undefined && ports === undefined)
  ) {
    return;
  }
  // Through core's policy-file parser as well, so CR rules can never mean more than file rules.
  const parsed: ServicePolicyRule = {
    action,
    ...(protocol !== undefined && { protocol }),
    ...(ports !== undefined && { ports }),
  };
  try {
    toServiceRule(parsed);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    rule.error(null, 'invalid', DepthMessage.serviceRule(err.message));
  }
}

function validateServicePolicy(policy: JsonFields): void {
  policy.enumeration('defaultAction', SERVICE_ACTIONS);
  for (const { path, value } of policy.array('rules', MAX_SERVICE_RULES) ?? []) {
    const rule = policy.element(path, value);
    if (rule !== undefined) validateRule(rule);
  }
}

function validateSpec(spec: JsonFields, options: MeshNodeValidationOptions): void {
  const org = spec.string('org', { required: true, maxLength: MAX_DNS_LABEL });
  if (org !== undefined && !isDnsLabel(org)) spec.error('org', 'invalid', CelMessage.orgReference);

  const publicKey = spec.string('publicKey', { required: true, maxLength: KEY_TEXT_LENGTH });
  const publicKeyError = publicKey === undefined ? null : identityKeyProblem(publicKey);
  if (publicKeyError !== null) spec.error('publicKey', 'invalid', publicKeyError);

  const wireguardKey = spec.string('wireguardPublicKey', { maxLength: KEY_TEXT_LENGTH });
  const wireguardError = wireguardKey === undefined ? null : wireguardKeyProblem(wireguardKey);
  if (wireguardError !== null) spec.error('wireguardPublicKey', 'invalid', wireguardError);
  if (options.certificateFormat === 'v2' && !spec.has('wireguardPublicKey')) {
    spec.error('wireguardPublicKey', 'required', DepthMessage.wireguardKeyForV2);
  }

  const nodeName = spec.string('nodeName', { maxLength: MAX_DNS_SUBDOMAIN });
  if (nodeName !== undefined && !isDnsSubdomain(nodeName)) spec.error('nodeName', 'invalid', CelMessage.nodeReference);
  const external = spec.boolean('external');
  if (spec.has('nodeName') === (external === true)) spec.error(null, 'invalid', CelMessage.nodeNameOrExternal);

  const dnsName = spec.string('dnsName', { maxLength: 32 });
  const dnsNameError = dnsName === undefined ? null : nodeNameProblem(dnsName);
  if (dnsNameError !== null) spec.error('dnsName', 'invalid', dnsNameError);

  const lifetime = spec.string('lifetime', { maxLength: MAX_DURATION_TEXT });
  const lifetimeError = lifetime === undefined ? null : durationProblem(lifetime, LIFETIME_BOUNDS);
  if (lifetimeError !== null) spec.error('lifetime', 'invalid', lifetimeError);

  spec.boolean('approved');
  const revoked = spec.boolean('revoked');
  spec.enumeration('revocationReason', REVOCATION_REASONS);
  if (spec.has('revocationReason') && revoked !== true) {
    spec.error('revocationReason', 'forbidden', CelMessage.reasonWithoutRevoked);
  }

  const policy = spec.object('servicePolicy');
  if (policy !== undefined) validateServicePolicy(policy);
}

/** The CRD's transition rules: what may not change from `previous` to `spec`. */
function validateTransition(spec: JsonFields, previous: unknown): void {
  const scratch: FieldError[] = [];
  // The stored object is not judged again here; only its values matter.
  const old = JsonFields.root(previous, scratch)?.object('spec');
  if (old === undefined) return;
  const changed = (key: string): boolean => old.raw(key) !== spec.raw(key);
  if (typeof old.raw('org') === 'string' && changed('org')) spec.error('org', 'immutable', CelMessage.orgImmutable);
  if (typeof old.raw('publicKey') === 'string' && changed('publicKey')) {
    spec.error('publicKey', 'immutable', CelMessage.publicKeyImmutable);
  }
  if (changed('nodeName')) spec.error('nodeName', 'immutable', CelMessage.nodeNameImmutable);
  if (old.raw('revoked') === true) {
    if (spec.raw('revoked') !== true) spec.error('revoked', 'immutable', CelMessage.revokedPermanent);
    if (changed('revocationReason')) spec.error('revocationReason', 'immutable', CelMessage.reasonFixed);
  }
}

/**
 * Every rule of crds/meshnodes.meshguard.dev.yaml, and the ones CEL cannot make (keys on the
 * curve, the org's format), applied to any JSON value; never throws. An empty list means the
 * object is fit to certify (status is not checked: it is the operator's own output).
 */
export function validateMeshNode(value: unknown, options: MeshNodeValidationOptions = {}): FieldError[] {
  const errors: FieldError[] = [];
  const root = JsonFields.root(value, errors);
  if (root === undefined) return errors;
  checkTypeMeta(root, MESH_NODE_NAMES.kind);
  const metadata = root.object('metadata', true);
  const name = metadata?.string('name', { required: true, maxLength: MAX_NODE_OBJECT_NAME });
  const spec = root.object('spec', true);
  if (spec === undefined) return errors;
  validateSpec(spec, options);
  // Without spec.dnsName the object name goes into the certificate's 32-byte name field.
  if (name !== undefined && !spec.has('dnsName') && nodeNameProblem(name) !== null) {
    metadata?.error('name', 'invalid', CelMessage.nodeObjectName);
  }
  if (options.previous !== undefined) validateTransition(spec, options.previous);
  return errors;
}

/** The value as a MeshNode, or a ResourceValidationError listing every problem. */
export function parseMeshNode(value: unknown, options: MeshNodeValidationOptions = {}): MeshNode {
  const errors = validateMeshNode(value, options);
  if (errors.length > 0) throw new ResourceValidationError(MESH_NODE_NAMES.kind, objectName(value), errors);
  return value as MeshNode;
}
