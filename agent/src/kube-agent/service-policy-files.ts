import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigPaths, resetServicePolicy, ServicePaths, writeFileAtomic } from '@meshguard/core';
import type { ServicePolicySpec } from '@meshguard/core/kube';

/**
 * A MeshNode's spec.servicePolicy as the services/ files of its agent's state dir (spec §12.1):
 * `services/default` and the rules, in order, as `services/global.policy`. The API server has
 * validated the spec (CRD schema); a rule that still does not parse makes the file invalid,
 * which the policy loader treats as deny — the agent fails closed like a hand-written file.
 */
export function servicePolicyFiles(spec: ServicePolicySpec): {
  readonly defaultAction: string;
  readonly rules: string;
} {
  const lines = (spec.rules ?? []).map((r) => {
    const ports = r.ports === undefined || r.ports === 0 || r.ports === '0' ? 'all' : String(r.ports);
    const proto = r.protocol ?? 'all';
    return proto === 'all' && ports === 'all' ? `${r.action} all` : `${r.action} ${proto} ${ports}`;
  });
  return {
    defaultAction: `${spec.defaultAction ?? 'allow'}\n`,
    rules: ['# written by meshguard agent from the MeshNode spec.servicePolicy', ...lines, ''].join('\n'),
  };
}

/**
 * Makes the state dir's services/ say what the MeshNode says; without a servicePolicy there is
 * no services/ directory (everything allowed, as in plain WireGuard). Returns whether it wrote.
 */
export function syncServicePolicy(stateDir: string, spec: ServicePolicySpec | undefined): boolean {
  if (spec === undefined) {
    if (!existsSync(join(stateDir, ConfigPaths.services))) return false;
    resetServicePolicy(stateDir, undefined);
    return true;
  }
  const want = servicePolicyFiles(spec);
  const read = (path: string): string | undefined => {
    try {
      return readFileSync(join(stateDir, path), 'utf8');
    } catch {
      return undefined;
    }
  };
  if (read(ServicePaths.default) === want.defaultAction && read(ServicePaths.global) === want.rules) return false;
  mkdirSync(join(stateDir, ConfigPaths.services), { recursive: true, mode: 0o700 });
  writeFileAtomic(join(stateDir, ServicePaths.global), want.rules, { mode: 0o600 });
  writeFileAtomic(join(stateDir, ServicePaths.default), want.defaultAction, { mode: 0o600 });
  return true;
}
