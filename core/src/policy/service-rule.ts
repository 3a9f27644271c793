import { PolicyError } from '../errors.js';

/** Rules per policy file (spec §1.11). */
export const MAX_SERVICE_RULES = 64;
/** Policy files, including `services/default`, are read up to this size (spec §12.1). */
export const SERVICE_POLICY_FILE_MAX_BYTES = 4096;

export type ServiceAction = 'allow' | 'deny';
/** The protocol a rule names; `all` matches both TCP and UDP. */
export type ServiceProto = 'tcp' | 'udp' | 'all';

/** Inclusive destination port range, `low <= high`, both in 0..65535. */
export interface PortRange {
  readonly low: number;
  readonly high: number;
}

export interface ServiceRule {
  readonly action: ServiceAction;
  readonly proto: ServiceProto;
  readonly ports: PortRange | 'all';
}

/** A rule as read from a file, with its 1-based line number for diagnostics. */
export interface ParsedServiceRule extends ServiceRule {
  readonly line: number;
}

const PORT_DIGITS = /^[0-9]{1,5}$/;

function parsePort(text: string): number | undefined {
  // Number() would accept '+22', '0x16', '1e3' and ' 22'; the file format is plain decimal.
  if (!PORT_DIGITS.test(text)) return undefined;
  const value = Number.parseInt(text, 10);
  return value <= 0xffff ? value : undefined;
}

/** A single decimal port 0..65535 (e.g. for `service show tcp 22`); PolicyError otherwise. */
export function parseServicePort(text: string): number {
  const port = parsePort(text);
  if (port === undefined) throw new PolicyError(`invalid port "${text}" (expected 0..65535)`);
  return port;
}

function parsePorts(text: string): PortRange | 'all' {
  if (text === 'all') return 'all';
  const dash = text.indexOf('-');
  const lowText = dash < 0 ? text : text.slice(0, dash);
  const highText = dash < 0 ? text : text.slice(dash + 1);
  const low = parsePort(lowText);
  const high = parsePort(highText);
  if (low === undefined || high === undefined) {
    throw new PolicyError(`invalid port "${text}" (expected all, N or N-M with N, M in 0..65535)`);
  }
  if (low > high) throw new PolicyError(`invalid port range "${text}": ${low} > ${high}`);
  // The reference stores port 0 as its "any port" marker, so `0` and `0-0` mean every port.
  if (high === 0) return 'all';
  return { low, high };
}

function parseAction(text: string): ServiceAction {
  if (text === 'allow' || text === 'deny') return text;
  throw new PolicyError(`invalid action "${text}" (expected allow or deny)`);
}

function parseProto(text: string): ServiceProto {
  if (text === 'tcp' || text === 'udp' || text === 'all') return text;
  throw new PolicyError(`invalid protocol "${text}" (expected tcp, udp or all)`);
}

/**
 * One rule from already-split tokens: `[action, "all"]` or `[action, proto, ports]`.
 * The CLI passes its arguments here directly so that an argument with embedded
 * whitespace is rejected as junk rather than silently split into more tokens.
 */
export function serviceRuleFromTokens(tokens: readonly string[]): ServiceRule {
  const [actionText, first, second, extra] = tokens;
  if (actionText === undefined) throw new PolicyError('empty rule');
  const action = parseAction(actionText);
  if (first === undefined) throw new PolicyError('missing "all" or "<proto> <ports>" after the action');
  if (extra !== undefined) throw new PolicyError(`unexpected "${extra}" after the ports`);
  if (second === undefined) {
    if (first !== 'all') throw new PolicyError(`"${action} ${first}" needs ports (or use "${action} all")`);
    return { action, proto: 'all', ports: 'all' };
  }
  return { action, proto: parseProto(first), ports: parsePorts(second) };
}

const TOKEN_SEPARATOR = /[ \t]+/;
const EDGE_WHITESPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/** One rule line (no comment handling): tokens separated by runs of spaces or tabs. */
export function parseServiceRule(line: string): ServiceRule {
  const trimmed = line.replace(EDGE_WHITESPACE, '');
  return serviceRuleFromTokens(trimmed === '' ? [] : trimmed.split(TOKEN_SEPARATOR));
}

/**
 * Parses a whole policy file. Any bad line, more than 64 rules or more than 4096 bytes
 * makes the whole file invalid (spec §12.1): a PolicyError naming the first offending line.
 */
export function parseServiceRuleFile(content: string | Uint8Array): ParsedServiceRule[] {
  const size = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
  if (size > SERVICE_POLICY_FILE_MAX_BYTES) {
    throw new PolicyError(`larger than ${SERVICE_POLICY_FILE_MAX_BYTES} bytes`);
  }
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('utf8');
  const rules: ParsedServiceRule[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.replace(EDGE_WHITESPACE, '');
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const line = i + 1;
    if (rules.length === MAX_SERVICE_RULES) throw new PolicyError(`line ${line}: more than ${MAX_SERVICE_RULES} rules`);
    try {
      rules.push({ ...serviceRuleFromTokens(trimmed.split(TOKEN_SEPARATOR)), line });
    } catch (err) {
      if (err instanceof PolicyError) throw new PolicyError(`line ${line}: ${err.message}`, { cause: err });
      throw err;
    }
  }
  return rules;
}

function formatPorts(ports: PortRange | 'all'): string {
  if (ports === 'all') return 'all';
  return ports.low === ports.high ? String(ports.low) : `${ports.low}-${ports.high}`;
}

/** The canonical line for a rule, e.g. `allow tcp 22`, `deny udp 1000-2000`, `allow all`. */
export function formatRule(rule: ServiceRule): string {
  if (rule.proto === 'all' && rule.ports === 'all') return `${rule.action} all`;
  return `${rule.action} ${rule.proto} ${formatPorts(rule.ports)}`;
}

/** Whether a rule applies to a TCP/UDP flow to `port`. */
export function serviceRuleMatches(rule: ServiceRule, proto: 'tcp' | 'udp', port: number): boolean {
  if (rule.proto !== 'all' && rule.proto !== proto) return false;
  return rule.ports === 'all' || (port >= rule.ports.low && port <= rule.ports.high);
}
