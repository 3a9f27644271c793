import { basename, join } from 'node:path';
import {
  appendServiceRule,
  encodeBase64,
  evaluateFlow,
  formatRule,
  fromHex,
  loadServicePolicy,
  parseServicePort,
  PolicyError,
  resetServicePolicy,
  resolveServiceSubject,
  serviceRuleFromTokens,
  setServiceDefault,
  toHex,
  type ServiceDefault,
  type ServicePolicyFile,
  type ServiceScope,
  type ServiceSubject,
} from '@meshguard/core';
import { parseCommandArgs, UsageError } from '../args.js';
import type { CliContext, CommandHandler } from '../context.js';

const USAGE = {
  rule: 'meshguard service allow|deny [--peer X | --org X] (all | <tcp|udp|all> <N|N-M|all>)',
  default: 'meshguard service default allow|deny',
  list: 'meshguard service list',
  show: 'meshguard service show [--peer X] [--org X] [<tcp|udp> <port>]',
  reset: 'meshguard service reset [--peer X | --org X | --global]',
} as const;
const SERVICE_USAGE = 'meshguard service allow|deny|default|list|show|reset ...';

const NO_POLICIES = 'No service policies (no services/ directory): all traffic is allowed';

const SUBJECT_OPTIONS = { peer: { type: 'string' }, org: { type: 'string' } } as const;

interface SubjectValues {
  readonly peer?: string | undefined;
  readonly org?: string | undefined;
}

function scopeFrom(values: SubjectValues, usage: string): ServiceScope {
  if (values.peer !== undefined && values.org !== undefined) {
    throw new UsageError('--peer and --org are mutually exclusive', usage);
  }
  if (values.peer !== undefined) return { kind: 'peer', id: values.peer };
  if (values.org !== undefined) return { kind: 'org', id: values.org };
  return { kind: 'global' };
}

/** Grammar mistakes in arguments are usage errors; the same mistakes in a file are PolicyErrors. */
function asUsage<T>(usage: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof PolicyError) throw new UsageError(err.message, usage);
    throw err;
  }
}

function addRule(action: 'allow' | 'deny', args: readonly string[], ctx: CliContext): void {
  const { values, positionals } = parseCommandArgs(args, SUBJECT_OPTIONS, USAGE.rule, { min: 1, max: 2 });
  const scope = scopeFrom(values, USAGE.rule);
  const rule = asUsage(USAGE.rule, () => serviceRuleFromTokens([action, ...positionals]));
  const added = appendServiceRule(ctx.configDir, scope, rule);
  const count = `${added.ruleCount} rule${added.ruleCount === 1 ? '' : 's'}`;
  ctx.out(`added "${added.line}" to ${join(ctx.configDir, added.file)} (${count})`);
}

function setDefault(args: readonly string[], ctx: CliContext): void {
  const { positionals } = parseCommandArgs(args, {}, USAGE.default, { min: 1, max: 1 });
  const action = positionals[0]!;
  if (action !== 'allow' && action !== 'deny') {
    throw new UsageError(`expected allow or deny, got "${action}"`, USAGE.default);
  }
  const file = setServiceDefault(ctx.configDir, action);
  ctx.out(`Default: ${action} (${join(ctx.configDir, file)})`);
}

function describeDefault(d: ServiceDefault): string {
  if (d.kind === 'invalid') return `deny (${d.source} is invalid: ${d.error})`;
  return d.explicit ? d.action : `${d.action} (no services/default)`;
}

function printFile(ctx: CliContext, heading: string, file: ServicePolicyFile): void {
  ctx.out(`${heading} (${file.source}):`);
  if (file.kind === 'invalid') {
    ctx.out(`  INVALID, denies everything it is consulted for: ${file.error}`);
    return;
  }
  if (file.rules.length === 0) ctx.out('  (no rules)');
  for (const rule of file.rules) ctx.out(`  ${formatRule(rule)}`);
}

/** `alice (<base64>)`, or just the base64 key when the file is named by it. */
function subjectLabel(hex: string, source: string): string {
  const b64 = encodeBase64(fromHex(hex, 32, 'key'));
  const stem = basename(source, '.policy');
  return stem === b64 ? b64 : `${stem} (${b64})`;
}

function printProblems(ctx: CliContext, problems: readonly string[]): void {
  if (problems.length === 0) return;
  ctx.out(`Problems (${problems.length}):`);
  for (const p of problems) ctx.out(`  ${p}`);
}

function list(args: readonly string[], ctx: CliContext): void {
  parseCommandArgs(args, {}, USAGE.list, { min: 0, max: 0 });
  const { policy, problems } = loadServicePolicy(ctx.configDir);
  if (policy.kind === 'none') {
    ctx.out(NO_POLICIES);
    return;
  }
  ctx.out(`Default: ${describeDefault(policy.defaultAction)}`);
  if (policy.global === undefined) ctx.out('Global: no policy');
  else printFile(ctx, 'Global', policy.global);
  for (const [kind, files] of [
    ['Peer', policy.peers],
    ['Org', policy.orgs],
  ] as const) {
    const entries = [...files].sort(([, a], [, b]) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    for (const [hex, file] of entries) printFile(ctx, `${kind} ${subjectLabel(hex, file.source)}`, file);
  }
  if (policy.peers.size === 0 && policy.orgs.size === 0) ctx.out('No peer or org policies');
  printProblems(ctx, problems);
}

function describeSubject(subject: ServiceSubject): string {
  const b64 = encodeBase64(subject.key);
  return subject.name === undefined ? `${subject.kind} ${b64}` : `${subject.kind} "${subject.name}" (${b64})`;
}

function show(args: readonly string[], ctx: CliContext): void {
  const { values, positionals } = parseCommandArgs(args, SUBJECT_OPTIONS, USAGE.show, { min: 0, max: 2 });
  if (positionals.length === 1) throw new UsageError('give both a protocol and a port', USAGE.show);
  const [protoText, portText] = positionals;
  let flow: { proto: 'tcp' | 'udp'; port: number } | undefined;
  if (protoText !== undefined && portText !== undefined) {
    if (protoText !== 'tcp' && protoText !== 'udp') {
      throw new UsageError(`expected tcp or udp, got "${protoText}"`, USAGE.show);
    }
    flow = { proto: protoText, port: asUsage(USAGE.show, () => parseServicePort(portText)) };
  }
  // Resolve before printing anything, so a bad name produces only the error.
  const peer = values.peer === undefined ? undefined : resolveServiceSubject(ctx.configDir, 'peer', values.peer);
  const org = values.org === undefined ? undefined : resolveServiceSubject(ctx.configDir, 'org', values.org);

  const { policy, problems } = loadServicePolicy(ctx.configDir);
  if (policy.kind === 'none') {
    ctx.out(NO_POLICIES);
  } else {
    ctx.out(`Default: ${describeDefault(policy.defaultAction)}`);
    const g = policy.global;
    ctx.out(`Global policy: ${g === undefined ? 'no' : g.kind === 'invalid' ? `yes, INVALID: ${g.error}` : 'yes'}`);
    ctx.out(`Peer policies: ${policy.peers.size}`);
    ctx.out(`Org policies: ${policy.orgs.size}`);
    for (const subject of [peer, org]) {
      if (subject === undefined) continue;
      const files = subject.kind === 'peer' ? policy.peers : policy.orgs;
      const file = files.get(toHex(subject.key));
      const state =
        file === undefined
          ? 'no policy'
          : file.kind === 'invalid'
            ? `${file.source}, INVALID: ${file.error}`
            : `${file.source} (${file.rules.length} rule${file.rules.length === 1 ? '' : 's'})`;
      ctx.out(`Policy for ${describeSubject(subject)}: ${state}`);
    }
  }
  if (flow !== undefined) {
    const decision = evaluateFlow(policy, flow, peer?.key, org?.key);
    const from = [peer, org].filter((s) => s !== undefined).map(describeSubject);
    const who = from.length === 0 ? 'a peer with no peer or org policy' : from.join(' in ');
    ctx.out(`${flow.proto} ${flow.port} from ${who}: ${decision.action} (${decision.reason}: ${decision.detail})`);
  }
  printProblems(ctx, problems);
}

function reset(args: readonly string[], ctx: CliContext): void {
  const { values } = parseCommandArgs(
    args,
    { ...SUBJECT_OPTIONS, global: { type: 'boolean', default: false } },
    USAGE.reset,
    { min: 0, max: 0 },
  );
  const flags = [values.peer, values.org, values.global ? true : undefined].filter((v) => v !== undefined);
  if (flags.length > 1) throw new UsageError('give at most one of --peer, --org, --global', USAGE.reset);
  const scope: ServiceScope | undefined =
    values.global || values.peer !== undefined || values.org !== undefined ? scopeFrom(values, USAGE.reset) : undefined;
  const removed = resetServicePolicy(ctx.configDir, scope);
  if (removed.length === 0) {
    ctx.out(
      scope === undefined ? 'No service policies; nothing removed' : 'No policy file for that scope; nothing removed',
    );
    return;
  }
  for (const file of removed) ctx.out(`removed ${join(ctx.configDir, file)}`);
}

/** `meshguard service <sub>`: edits and inspects the inbound service policy (spec §12). */
export const serviceCommand: CommandHandler = (args, ctx) => {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'allow':
    case 'deny':
      addRule(sub, rest, ctx);
      return;
    case 'default':
      setDefault(rest, ctx);
      return;
    case 'list':
      list(rest, ctx);
      return;
    case 'show':
      show(rest, ctx);
      return;
    case 'reset':
      reset(rest, ctx);
      return;
    case undefined:
      throw new UsageError('missing subcommand', SERVICE_USAGE);
    default:
      throw new UsageError(`unknown subcommand "${sub}"`, SERVICE_USAGE);
  }
};
