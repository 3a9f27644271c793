import { toHex } from '../encoding/hex.js';
import { classifyPacket, type PacketClass } from './packet-classifier.js';
import { formatRule, serviceRuleMatches, type ServiceAction, type ServiceRule } from './service-rule.js';

/** A policy file that parsed; `source` is its path relative to the config dir. */
export interface ServiceRuleSet {
  readonly kind: 'rules';
  readonly source: string;
  readonly rules: readonly ServiceRule[];
}

/**
 * A policy file that exists but cannot be used. The reference ignores such files; we keep
 * them so that the level they belong to denies instead of silently opening up.
 */
export interface InvalidServicePolicyFile {
  readonly kind: 'invalid';
  readonly source: string;
  readonly error: string;
}

export type ServicePolicyFile = ServiceRuleSet | InvalidServicePolicyFile;

/** `services/default`: an action (`explicit` false when the file is absent), or invalid. */
export type ServiceDefault =
  { readonly kind: 'action'; readonly action: ServiceAction; readonly explicit: boolean } | InvalidServicePolicyFile;

/** Everything under `services/` that evaluation needs; built by `loadServicePolicy`. */
export type ServicePolicy =
  /** No `services/` directory: every packet is allowed, as in the reference. */
  | { readonly kind: 'none' }
  | {
      readonly kind: 'configured';
      readonly defaultAction: ServiceDefault;
      readonly global: ServicePolicyFile | undefined;
      /** Keyed by the lowercase hex of the peer's identity public key. */
      readonly peers: ReadonlyMap<string, ServicePolicyFile>;
      /** Keyed by the lowercase hex of the org public key. */
      readonly orgs: ReadonlyMap<string, ServicePolicyFile>;
    };

export type ServiceDecisionReason =
  'icmp' | 'peer-rule' | 'org-rule' | 'global-rule' | 'default' | 'invalid-policy' | 'malformed' | 'no-policy';

export interface ServiceDecision {
  readonly action: ServiceAction;
  readonly reason: ServiceDecisionReason;
  /** Human-readable: which file and rule decided, or why the packet was refused. */
  readonly detail: string;
}

/** A TCP/UDP flow without a packet, for `service show`. */
export interface ServiceFlow {
  readonly proto: 'tcp' | 'udp';
  readonly port: number;
}

export const NO_SERVICE_POLICY: ServicePolicy = Object.freeze({ kind: 'none' });

const NO_POLICY_DECISION: ServiceDecision = Object.freeze({
  action: 'allow',
  reason: 'no-policy',
  detail: 'no services/ directory',
});
const ICMP_DECISION: ServiceDecision = Object.freeze({
  action: 'allow',
  reason: 'icmp',
  detail: 'ICMP is always allowed',
});

type Configured = Extract<ServicePolicy, { kind: 'configured' }>;

function invalid(file: InvalidServicePolicyFile): ServiceDecision {
  return { action: 'deny', reason: 'invalid-policy', detail: `${file.source} is invalid: ${file.error}` };
}

function describeRule(rule: ServiceRule, source: string): string {
  const line = 'line' in rule && typeof rule.line === 'number' ? ` line ${rule.line}` : '';
  return `"${formatRule(rule)}" (${source}${line})`;
}

/** The decision of one level, or undefined to fall through to the next. */
function consult(
  file: ServicePolicyFile | undefined,
  reason: 'peer-rule' | 'org-rule' | 'global-rule',
  flow: ServiceFlow,
): ServiceDecision | undefined {
  if (file === undefined) return undefined;
  if (file.kind === 'invalid') return invalid(file);
  for (const rule of file.rules) {
    if (serviceRuleMatches(rule, flow.proto, flow.port)) {
      return { action: rule.action, reason, detail: describeRule(rule, file.source) };
    }
  }
  return undefined;
}

function applyDefault(policy: Configured, why: string): ServiceDecision {
  const d = policy.defaultAction;
  if (d.kind === 'invalid') return invalid(d);
  const origin = d.explicit ? 'services/default' : 'no services/default';
  return { action: d.action, reason: 'default', detail: `${why}; default ${d.action} (${origin})` };
}

function evaluateConfiguredFlow(
  policy: Configured,
  flow: ServiceFlow,
  senderHex: string | undefined,
  orgHex: string | undefined,
): ServiceDecision {
  return (
    (senderHex === undefined ? undefined : consult(policy.peers.get(senderHex), 'peer-rule', flow)) ??
    (orgHex === undefined ? undefined : consult(policy.orgs.get(orgHex), 'org-rule', flow)) ??
    consult(policy.global, 'global-rule', flow) ??
    applyDefault(policy, `no rule matches ${flow.proto} ${flow.port}`)
  );
}

function evaluateClass(
  policy: ServicePolicy,
  packet: PacketClass,
  senderHex: string,
  senderOrgHex: string | undefined,
): ServiceDecision {
  if (policy.kind === 'none') return NO_POLICY_DECISION;
  switch (packet.kind) {
    case 'icmp':
      return ICMP_DECISION;
    case 'malformed':
      // Fail closed: whatever we cannot parse we cannot match against a rule either.
      return { action: 'deny', reason: 'malformed', detail: packet.reason };
    case 'other':
      return applyDefault(policy, 'not TCP/UDP (or a later fragment)');
    case 'tcp':
    case 'udp':
      return evaluateConfiguredFlow(policy, { proto: packet.kind, port: packet.port }, senderHex, senderOrgHex);
  }
}

/**
 * Decides an inbound packet (raw inner IP bytes, or an already classified one) from
 * `sender`, whose certificate names `senderOrg` when it was admitted by certificate.
 * Order (spec §12.2): ICMP passes; malformed is denied; non-TCP/UDP gets the default;
 * TCP/UDP goes peer → org → global → default, first matching rule of a level deciding.
 */
export function evaluatePolicy(
  policy: ServicePolicy,
  packet: Uint8Array | PacketClass,
  sender: Uint8Array,
  senderOrg: Uint8Array | undefined,
): ServiceDecision {
  return evaluateClass(
    policy,
    packet instanceof Uint8Array ? classifyPacket(packet) : packet,
    toHex(sender),
    senderOrg === undefined ? undefined : toHex(senderOrg),
  );
}

/**
 * evaluatePolicy for the data plane: the keys as the lowercase hex the policy maps are keyed by,
 * computed once per peer rather than once per packet.
 */
export function evaluatePolicyByHex(
  policy: ServicePolicy,
  packet: Uint8Array,
  senderHex: string,
  senderOrgHex: string | undefined,
): ServiceDecision {
  return evaluateClass(policy, classifyPacket(packet), senderHex, senderOrgHex);
}

/**
 * The decision for a TCP/UDP flow without a packet (`service show`); `sender` and
 * `senderOrg` are optional so that one level can be inspected on its own.
 */
export function evaluateFlow(
  policy: ServicePolicy,
  flow: ServiceFlow,
  sender: Uint8Array | undefined,
  senderOrg: Uint8Array | undefined,
): ServiceDecision {
  if (policy.kind === 'none') return NO_POLICY_DECISION;
  return evaluateConfiguredFlow(
    policy,
    flow,
    sender === undefined ? undefined : toHex(sender),
    senderOrg === undefined ? undefined : toHex(senderOrg),
  );
}

/** One line for `config show` and `service show`, e.g. `default deny, global policy, 2 peer and 0 org policies`. */
export function summarizeServicePolicy(policy: ServicePolicy): string {
  if (policy.kind === 'none') return 'none (no services/ directory: all traffic allowed)';
  const d = policy.defaultAction;
  const def = d.kind === 'invalid' ? 'default INVALID (denies)' : `default ${d.action}`;
  const global =
    policy.global === undefined
      ? 'no global policy'
      : policy.global.kind === 'invalid'
        ? 'global policy INVALID (denies)'
        : 'global policy';
  return `${def}, ${global}, ${policy.peers.size} peer and ${policy.orgs.size} org policies`;
}
