import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadYaml } from '@kubernetes/client-node';

// Helm for the chart tests: where the binary is (operator/tools/helm-binary.js, which `npm test`
// runs first as `npm run tools:helm`), and the chart rendered into objects.

/** The repository root, from operator/dist/test/chart/ (compiled). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'charts', 'meshguard');
export const CRD_SOURCE_DIR = join(REPO_ROOT, 'crds');
export const CHART_CRD_DIR = join(CHART_DIR, 'files', 'crds');
const LOCATOR = join(REPO_ROOT, 'operator', 'tools', 'helm-binary.js');

export const RELEASE = 'meshguard';
export const NAMESPACE = 'meshguard-system';

interface HelmLocation {
  readonly helmVersion: string;
  readonly helm: string;
  readonly available: boolean;
  readonly missing: readonly string[];
}

/** For requireCapability: whether helm is here, and if not, why. */
export interface HelmAvailability {
  readonly available: boolean;
  readonly reason: string;
  readonly helm: string | null;
  readonly version: string | null;
}

let located: HelmAvailability | undefined;

/** Asks the script that builds helm where it is; never builds (that is `npm run tools:helm`). */
export function helmAvailability(): HelmAvailability {
  if (located !== undefined) return located;
  const result = spawnSync(process.execPath, [LOCATOR, '--locate'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status !== 0) {
    const why = result.error?.message ?? result.stderr.trim();
    return (located = { available: false, reason: `cannot run ${LOCATOR}: ${why}`, helm: null, version: null });
  }
  const found = JSON.parse(result.stdout) as HelmLocation;
  return (located = found.available
    ? { available: true, reason: `helm ${found.helmVersion}`, helm: found.helm, version: found.helmVersion }
    : { available: false, reason: `helm missing: ${found.missing.join('; ')}`, helm: null, version: null });
}

export interface HelmResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with a private, empty configuration (no repositories, no plugins, no kube context). */
export function runHelm(args: readonly string[]): HelmResult {
  const { helm } = helmAvailability();
  if (helm === null) throw new Error('helm is not available; check helmAvailability() first');
  const home = mkdtempSync(join(tmpdir(), 'meshguard-helm-'));
  try {
    const result = spawnSync(helm, args, {
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: home,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
        KUBECONFIG: join(home, 'no-kubeconfig'),
      },
    });
    if (result.error !== undefined) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Values for one run, passed as a values file (JSON is YAML), so types survive as written. */
export type Values = Readonly<Record<string, unknown>>;

/** `--values <file>` for these values; the file is removed by the returned cleanup. */
function valuesFile(values: Values): { args: string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'meshguard-values-'));
  const path = join(dir, 'values.json');
  writeFileSync(path, JSON.stringify(values));
  return { args: ['--values', path], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function helmWithValues(args: readonly string[], values: Values): HelmResult {
  const file = valuesFile(values);
  try {
    return runHelm([...args, ...file.args]);
  } finally {
    file.cleanup();
  }
}

/**
 * The Kubernetes version `helm template` and `helm lint` assume without a cluster: the test
 * cluster's. Helm 4 assumes its client library's (1.37), Helm 3 assumes 1.20, which the chart's
 * kubeVersion (>= 1.30) refuses; naming it keeps the tests valid for either (MESHGUARD_HELM_VERSION).
 */
export const KUBE_VERSION = 'v1.37.2';

export function helmTemplate(values: Values, namespace = NAMESPACE): HelmResult {
  return helmWithValues(
    ['template', RELEASE, CHART_DIR, '--namespace', namespace, '--kube-version', KUBE_VERSION],
    values,
  );
}

export function helmLint(values: Values): HelmResult {
  return helmWithValues(
    ['lint', CHART_DIR, '--strict', '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION],
    values,
  );
}

/** One object of the rendered output: its YAML text as helm printed it, and the parsed object. */
export interface RenderedObject {
  /** The document's text: a server-side apply body as is. */
  readonly yaml: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  /**
   * The object as client-node's typed model reads it (camelCase names such as
   * xKubernetesValidations), as plain data. Fields the model does not know are dropped, so the
   * server-side checks send `yaml` instead.
   */
  readonly object: unknown;
}

interface ObjectHead {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
}

/** Splits `helm template` output into its objects (documents with nothing but comments are dropped). */
export function parseRendered(output: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const doc of output.split(/^---[ \t]*$/m)) {
    const meaningful = doc.split('\n').some((line) => line.trim() !== '' && !line.trimStart().startsWith('#'));
    if (!meaningful) continue;
    // Plain data (no model class prototypes), so deepEqual compares values only.
    const object = JSON.parse(JSON.stringify(loadYaml<unknown>(doc))) as unknown;
    const head = object as ObjectHead;
    const { apiVersion, kind } = head;
    const name = head.metadata?.name;
    if (apiVersion === undefined || kind === undefined || name === undefined) {
      throw new Error(`rendered document without apiVersion, kind or metadata.name:\n${doc}`);
    }
    objects.push({ yaml: doc, apiVersion, kind, name, namespace: head.metadata?.namespace, object });
  }
  return objects;
}

/** Renders the chart and parses it; throws with helm's output when helm refuses. */
export function renderChart(values: Values, namespace = NAMESPACE): RenderedObject[] {
  const result = helmTemplate(values, namespace);
  if (result.status !== 0) throw new Error(`helm template failed (${String(result.status)}):\n${result.stderr}`);
  return parseRendered(result.stdout);
}

/**
 * The one object of this kind (and name, if given), for the caller to view as its client-node
 * type; throws if there is not exactly one.
 */
export function only(objects: readonly RenderedObject[], kind: string, name?: string): unknown {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.name === name));
  if (found.length !== 1) {
    const what = `${kind}${name === undefined ? '' : ` ${name}`}`;
    throw new Error(
      `expected one ${what}, found ${String(found.length)}: ${objects.map((o) => `${o.kind}/${o.name}`).join(', ')}`,
    );
  }
  return found[0]!.object;
}
