import { lstatSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigPaths } from '../config/config-dir.js';
import type { PublicKey } from '../crypto/ed25519.js';
import { bytesEqual, concatBytes } from '../encoding/bytes.js';
import { encodeBase64 } from '../encoding/base64.js';
import { toHex } from '../encoding/hex.js';
import { ArgumentError, errorMessage, PolicyError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { isNotFound, readFileLimited } from '../fs/read-limited.js';
import { decodePublicKeyText, TRUST_FILE_MAX_BYTES } from '../identity/identity-key.js';
import {
  NO_SERVICE_POLICY,
  summarizeServicePolicy,
  type ServiceDefault,
  type ServicePolicy,
  type ServicePolicyFile,
} from './service-policy.js';
import {
  formatRule,
  parseServiceRuleFile,
  SERVICE_POLICY_FILE_MAX_BYTES,
  type ServiceAction,
  type ServiceRule,
} from './service-rule.js';

/** Peer and org policy files loaded (spec §1.11); the rest are reported and ignored. */
export const MAX_PEER_POLICIES = 64;
export const MAX_ORG_POLICIES = 16;

export const ServicePaths = {
  default: join(ConfigPaths.services, 'default'),
  global: join(ConfigPaths.services, 'global.policy'),
  peers: join(ConfigPaths.services, 'peer'),
  orgs: join(ConfigPaths.services, 'org'),
} as const;

const POLICY_SUFFIX = '.policy';
const BASE64_KEY_CHARS = 44;

export type ServiceSubjectKind = 'peer' | 'org';

/** Where rules go: `services/global.policy`, or a peer/org named by trust name or base64 key. */
export type ServiceScope = { readonly kind: 'global' } | { readonly kind: ServiceSubjectKind; readonly id: string };

interface SubjectKindInfo {
  /** Relative to the config dir. */
  readonly policyDir: string;
  readonly keysDir: string;
  readonly keySuffix: string;
  readonly limit: number;
  readonly trustHint: string;
}

const SUBJECT_KINDS: Readonly<Record<ServiceSubjectKind, SubjectKindInfo>> = {
  peer: {
    policyDir: ServicePaths.peers,
    keysDir: ConfigPaths.authorizedKeys,
    keySuffix: '.pub',
    limit: MAX_PEER_POLICIES,
    trustHint: 'meshguard trust <key> --name NAME',
  },
  org: {
    policyDir: ServicePaths.orgs,
    keysDir: ConfigPaths.trustedOrgs,
    keySuffix: '.org',
    limit: MAX_ORG_POLICIES,
    trustHint: 'meshguard trust <key> --org --name NAME',
  },
};

type BoundedRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly bytes: Uint8Array }
  | { readonly kind: 'error'; readonly error: string };

/** `readFileLimited` with its failures as values: a bad policy file is reported, never thrown. */
function readBounded(path: string, maxBytes: number): BoundedRead {
  try {
    return { kind: 'ok', bytes: readFileLimited(path, maxBytes) };
  } catch (err) {
    if (isNotFound(err)) return { kind: 'missing' };
    return { kind: 'error', error: errorMessage(err) };
  }
}

/** Names that are a single path component we are willing to join under a config subdir. */
function isSafeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !/[/\\\0]/.test(name);
}

function keyFromBase64(text: string): PublicKey | undefined {
  if (text.length !== BASE64_KEY_CHARS) return undefined;
  try {
    return decodePublicKeyText(text);
  } catch {
    return undefined;
  }
}

/** A key lookup: the key, or why there is none. */
type KeyLookup =
  | { readonly kind: 'key'; readonly key: PublicKey }
  | { readonly kind: 'missing' }
  | { readonly kind: 'error'; readonly error: string };

const MISSING: KeyLookup = { kind: 'missing' };

/** The key in `<keysDir>/<name><suffix>` (authorized_keys/alice.pub, trusted_orgs/acme.org). */
function readNamedKey(configDir: string, info: SubjectKindInfo, name: string): KeyLookup {
  if (!isSafeName(name)) return MISSING;
  const rel = join(info.keysDir, `${name}${info.keySuffix}`);
  const read = readBounded(join(configDir, rel), TRUST_FILE_MAX_BYTES);
  if (read.kind !== 'ok') return read.kind === 'missing' ? MISSING : { kind: 'error', error: `${rel}: ${read.error}` };
  try {
    return { kind: 'key', key: decodePublicKeyText(Buffer.from(read.bytes).toString('latin1'), rel) };
  } catch (err) {
    return { kind: 'error', error: errorMessage(err) };
  }
}

/**
 * The key a policy file stem names: a 44-character base64 key first, else a trust name.
 * Writers pick stems with the same precedence, so reader and writer always agree.
 */
function resolveStem(configDir: string, info: SubjectKindInfo, stem: string): KeyLookup {
  const direct = keyFromBase64(stem);
  if (direct !== undefined) return { kind: 'key', key: direct };
  const named = readNamedKey(configDir, info, stem);
  if (named.kind !== 'missing') return named;
  return { kind: 'error', error: `not a base64 key and no ${join(info.keysDir, `${stem}${info.keySuffix}`)}` };
}

interface DirEntryName {
  readonly name: string;
}

/** Sorted entries of a directory (empty when it is missing), or an error text. */
function listDir(path: string): DirEntryName[] | string {
  try {
    return readdirSync(path, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return errorMessage(err);
  }
}

function policyStems(configDir: string, info: SubjectKindInfo, problems: string[]): string[] {
  const entries = listDir(join(configDir, info.policyDir));
  if (typeof entries === 'string') {
    problems.push(`${info.policyDir}: ${entries}`);
    return [];
  }
  return entries.filter((e) => e.name.endsWith(POLICY_SUFFIX)).map((e) => e.name.slice(0, -POLICY_SUFFIX.length));
}

function readPolicyFile(configDir: string, source: string): ServicePolicyFile | undefined {
  const read = readBounded(join(configDir, source), SERVICE_POLICY_FILE_MAX_BYTES);
  if (read.kind === 'missing') return undefined;
  if (read.kind === 'error') return { kind: 'invalid', source, error: read.error };
  try {
    return { kind: 'rules', source, rules: parseServiceRuleFile(read.bytes) };
  } catch (err) {
    return { kind: 'invalid', source, error: errorMessage(err) };
  }
}

const EDGE_WHITESPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

function readDefault(configDir: string): ServiceDefault {
  const source = ServicePaths.default;
  const read = readBounded(join(configDir, source), SERVICE_POLICY_FILE_MAX_BYTES);
  if (read.kind === 'missing') return { kind: 'action', action: 'allow', explicit: false };
  if (read.kind === 'error') return { kind: 'invalid', source, error: read.error };
  const text = Buffer.from(read.bytes).toString('latin1').replace(EDGE_WHITESPACE, '');
  if (text === 'allow' || text === 'deny') return { kind: 'action', action: text, explicit: true };
  // The reference treats every other content as allow; a typo must not open everything up.
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return { kind: 'invalid', source, error: `expected "allow" or "deny", found ${JSON.stringify(shown)}` };
}

function loadSubjectPolicies(
  configDir: string,
  kind: ServiceSubjectKind,
  problems: string[],
): Map<string, ServicePolicyFile> {
  const info = SUBJECT_KINDS[kind];
  const policies = new Map<string, ServicePolicyFile>();
  for (const stem of policyStems(configDir, info, problems)) {
    const source = join(info.policyDir, `${stem}${POLICY_SUFFIX}`);
    const resolved = resolveStem(configDir, info, stem);
    if (resolved.kind !== 'key') {
      problems.push(`${source}: not loaded: ${resolved.kind === 'error' ? resolved.error : 'unresolvable'}`);
      continue;
    }
    const { key } = resolved;
    const hex = toHex(key);
    const earlier = policies.get(hex);
    if (earlier === undefined && policies.size >= info.limit) {
      problems.push(`${source}: not loaded: more than ${info.limit} ${kind} policies`);
      continue;
    }
    const file = readPolicyFile(configDir, source);
    if (file === undefined) continue; // Removed between readdir and open.
    if (earlier !== undefined) {
      // Two files for one key (alias and base64 names): neither is obviously meant, so the
      // peer gets an invalid policy (deny) until one is removed.
      const error = `${earlier.source} and ${source} both apply to ${kind} ${encodeBase64(key)}`;
      policies.set(hex, { kind: 'invalid', source: earlier.source, error });
      problems.push(error);
      continue;
    }
    policies.set(hex, file);
    if (file.kind === 'invalid') problems.push(`${source}: ${file.error}`);
  }
  return policies;
}

export interface LoadedServicePolicy {
  readonly policy: ServicePolicy;
  /** Invalid, unresolvable and over-limit files, one line each; never thrown. */
  readonly problems: readonly string[];
  /** One line, see `summarizeServicePolicy`. */
  readonly summary: string;
}

function loaded(policy: ServicePolicy, problems: readonly string[]): LoadedServicePolicy {
  return { policy, problems, summary: summarizeServicePolicy(policy) };
}

/** Reads `services/` (spec §12.1). Never throws for file content; see `problems`. */
export function loadServicePolicy(configDir: string): LoadedServicePolicy {
  const servicesDir = join(configDir, ConfigPaths.services);
  let isDir: boolean;
  try {
    isDir = statSync(servicesDir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return loaded(NO_SERVICE_POLICY, []);
    isDir = false;
  }
  if (!isDir) {
    // Something is there but unusable: deny at the default rather than fall back to "no policy".
    const error = 'exists but is not a readable directory';
    const policy: ServicePolicy = {
      kind: 'configured',
      defaultAction: { kind: 'invalid', source: ConfigPaths.services, error },
      global: undefined,
      peers: new Map(),
      orgs: new Map(),
    };
    return loaded(policy, [`${ConfigPaths.services}: ${error}`]);
  }
  const problems: string[] = [];
  const defaultAction = readDefault(configDir);
  if (defaultAction.kind === 'invalid') problems.push(`${defaultAction.source}: ${defaultAction.error}`);
  const global = readPolicyFile(configDir, ServicePaths.global);
  if (global?.kind === 'invalid') problems.push(`${global.source}: ${global.error}`);
  const peers = loadSubjectPolicies(configDir, 'peer', problems);
  const orgs = loadSubjectPolicies(configDir, 'org', problems);
  return loaded({ kind: 'configured', defaultAction, global, peers, orgs }, problems);
}

/** A peer or org named on the command line, resolved to its key. */
export interface ServiceSubject {
  readonly kind: ServiceSubjectKind;
  readonly key: PublicKey;
  /** The authorized_keys / trusted_orgs name holding the key, if any. */
  readonly name: string | undefined;
}

function nameHoldingKey(configDir: string, info: SubjectKindInfo, key: PublicKey): string | undefined {
  const entries = listDir(join(configDir, info.keysDir));
  if (typeof entries === 'string') return undefined;
  for (const { name } of entries) {
    if (!name.endsWith(info.keySuffix) || name.startsWith('.')) continue;
    const stem = name.slice(0, -info.keySuffix.length);
    const held = readNamedKey(configDir, info, stem);
    if (held.kind === 'key' && bytesEqual(held.key, key)) return stem;
  }
  return undefined;
}

/**
 * `--peer X` / `--org X`: a base64 key (44 characters), else a name in authorized_keys/
 * (resp. trusted_orgs/). Throws ArgumentError when X is neither.
 */
export function resolveServiceSubject(configDir: string, kind: ServiceSubjectKind, id: string): ServiceSubject {
  const info = SUBJECT_KINDS[kind];
  const direct = keyFromBase64(id);
  if (direct !== undefined) return { kind, key: direct, name: nameHoldingKey(configDir, info, direct) };
  const named = readNamedKey(configDir, info, id);
  switch (named.kind) {
    case 'key':
      return { kind, key: named.key, name: id };
    case 'error':
      throw new ArgumentError(`${kind} "${id}": ${named.error}`);
    case 'missing':
      throw new ArgumentError(
        `unknown ${kind} "${id}": not a base64 public key and not a name in ${info.keysDir}/ (add it with ${info.trustHint})`,
      );
  }
}

/** Existing policy files (relative paths) that apply to `key`. */
function filesForKey(configDir: string, info: SubjectKindInfo, key: PublicKey): string[] {
  const found: string[] = [];
  for (const stem of policyStems(configDir, info, [])) {
    const resolved = resolveStem(configDir, info, stem);
    if (resolved.kind === 'key' && bytesEqual(resolved.key, key)) {
      found.push(join(info.policyDir, `${stem}${POLICY_SUFFIX}`));
    }
  }
  return found;
}

/**
 * The file rules for `subject` are written to: an existing file for the key (so no second
 * file appears for one peer), else `<name>.policy`, else `<base64>.policy`. A key containing
 * '/' cannot be a file name, so such a peer must be given a trust name first.
 */
export function serviceSubjectFile(configDir: string, subject: ServiceSubject): string {
  const info = SUBJECT_KINDS[subject.kind];
  const existing = filesForKey(configDir, info, subject.key)[0];
  if (existing !== undefined) return existing;
  // A trust name that is itself a 44-character key would be read back as that key.
  if (subject.name !== undefined && keyFromBase64(subject.name) === undefined) {
    return join(info.policyDir, `${subject.name}${POLICY_SUFFIX}`);
  }
  const b64 = encodeBase64(subject.key);
  if (!b64.includes('/')) return join(info.policyDir, `${b64}${POLICY_SUFFIX}`);
  throw new ArgumentError(
    `${subject.kind} key ${b64} contains '/', which cannot be a file name: give it a name first (${info.trustHint}) and use that name`,
  );
}

function scopeFile(configDir: string, scope: ServiceScope): { file: string; subject: ServiceSubject | undefined } {
  if (scope.kind === 'global') return { file: ServicePaths.global, subject: undefined };
  const subject = resolveServiceSubject(configDir, scope.kind, scope.id);
  return { file: serviceSubjectFile(configDir, subject), subject };
}

export interface AppendedServiceRule {
  /** Path of the file written, relative to the config dir. */
  readonly file: string;
  /** The canonical line appended. */
  readonly line: string;
  /** Rules in the file after the append. */
  readonly ruleCount: number;
}

/**
 * Appends `rule` to the scope's file. The whole resulting file is validated first, and the
 * write is atomic, so a rejected append (invalid existing file, 65th rule, 65th peer file)
 * leaves the config dir untouched.
 */
export function appendServiceRule(configDir: string, scope: ServiceScope, rule: ServiceRule): AppendedServiceRule {
  const { file, subject } = scopeFile(configDir, scope);
  const read = readBounded(join(configDir, file), SERVICE_POLICY_FILE_MAX_BYTES);
  if (read.kind === 'error') throw new PolicyError(`${file}: ${read.error}`);
  if (read.kind === 'missing' && subject !== undefined) {
    const info = SUBJECT_KINDS[subject.kind];
    const current = loadServicePolicy(configDir).policy;
    const count = current.kind === 'none' ? 0 : (subject.kind === 'peer' ? current.peers : current.orgs).size;
    if (count >= info.limit) {
      throw new PolicyError(`${file}: already ${count} ${subject.kind} policies, the most that are loaded`);
    }
  }
  const existing = read.kind === 'ok' ? read.bytes : new Uint8Array(0);
  if (existing.length > 0) {
    try {
      parseServiceRuleFile(existing);
    } catch (err) {
      throw new PolicyError(`${file} is invalid (${errorMessage(err)}); fix it or reset it first`, { cause: err });
    }
  }
  const line = formatRule(rule);
  const separator = existing.length > 0 && existing[existing.length - 1] !== 0x0a ? '\n' : '';
  const content = concatBytes(existing, Buffer.from(`${separator}${line}\n`, 'utf8'));
  let ruleCount: number;
  try {
    ruleCount = parseServiceRuleFile(content).length;
  } catch (err) {
    throw new PolicyError(`${file}: cannot add "${line}": ${errorMessage(err)}`, { cause: err });
  }
  writeFileAtomic(join(configDir, file), content);
  return { file, line, ruleCount };
}

/** Writes `services/default`; returns its path relative to the config dir. */
export function setServiceDefault(configDir: string, action: ServiceAction): string {
  writeFileAtomic(join(configDir, ServicePaths.default), `${action}\n`);
  return ServicePaths.default;
}

/**
 * Removes the scope's policy file(s) — for a peer/org every file that applies to its key,
 * plus a file literally named X even when X no longer resolves — or, without a scope, the
 * whole `services/` directory. Returns the removed paths relative to the config dir.
 */
export function resetServicePolicy(configDir: string, scope: ServiceScope | undefined): string[] {
  if (scope === undefined) {
    const dir = join(configDir, ConfigPaths.services);
    if (!pathExists(dir)) return [];
    rmSync(dir, { recursive: true, force: true });
    return [ConfigPaths.services];
  }
  if (scope.kind === 'global') return removeFiles(configDir, [ServicePaths.global]);
  const info = SUBJECT_KINDS[scope.kind];
  const files = new Set<string>();
  const literal = join(info.policyDir, `${scope.id}${POLICY_SUFFIX}`);
  const literalExists = isSafeName(scope.id) && pathExists(join(configDir, literal));
  if (literalExists) files.add(literal);
  let subject: ServiceSubject | undefined;
  try {
    subject = resolveServiceSubject(configDir, scope.kind, scope.id);
  } catch (err) {
    if (!literalExists) throw err;
  }
  if (subject !== undefined) for (const f of filesForKey(configDir, info, subject.key)) files.add(f);
  return removeFiles(configDir, [...files].sort());
}

function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function removeFiles(configDir: string, files: readonly string[]): string[] {
  const removed: string[] = [];
  for (const file of files) {
    try {
      unlinkSync(join(configDir, file));
      removed.push(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return removed;
}
