#!/usr/bin/env node
// Provides the `helm` binary for the chart tests (operator/test/chart/): `helm lint`,
// `helm template` and the values schema of charts/meshguard are checked with a real Helm.
//
// Helm publishes no binary in any registry this project can reach, but it is a Go module, so it
// is built with the Go toolchain from the Go module proxy (`go install helm.sh/helm/v4/cmd/helm@…`,
// checked against the Go checksum database). The build takes a few minutes, so the binary lives
// in a cache outside the repository, shared by every clone; a cached run only checks that the
// file is there and runs.
//
// Usage:
//   node operator/tools/helm-binary.js           build if needed; print the helm path on stdout
//   node operator/tools/helm-binary.js --json    same, but print everything as JSON
//   node operator/tools/helm-binary.js --locate  never build; JSON of what is there (for tests)
//
// Environment: MESHGUARD_TOOLS_CACHE (cache root, default ~/.cache/meshguard-tools),
// MESHGUARD_HELM_VERSION (another release, e.g. v3.22.0: the module path follows the major
// version), CI (a failure exits non-zero under CI; on a laptop it only warns, so `npm test` still
// runs and the chart tests that need helm skip with the reason).

import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { cacheRoot, inCi, isExecutable, isFile, logger, prepareGoBuild, run } from './tool-cache.js';

// Helm 4 is the current major line (v3 gets security fixes only); the chart itself is apiVersion
// v2 and works with Helm 3.8+ as well. v4.3.1 is the newest release on the module proxy and builds
// with the Go 1.26 toolchain at /usr/local/go.
const DEFAULT_HELM_VERSION = 'v4.3.1';
const MARKER = 'BUILD-INFO.json';

const log = logger('helm-binary');

function helmVersion() {
  const v = process.env.MESHGUARD_HELM_VERSION;
  const version = v !== undefined && v !== '' ? v : DEFAULT_HELM_VERSION;
  if (!/^v[34]\.\d+\.\d+$/.test(version)) {
    throw new Error(`MESHGUARD_HELM_VERSION must look like v4.3.1 or v3.22.0, got ${JSON.stringify(version)}`);
  }
  return version;
}

/** helm.sh/helm/v4 for v4.x.y: Go's semantic import versioning puts the major in the path. */
function modulePath(version) {
  return `helm.sh/helm/${version.split('.')[0]}`;
}

/** Where helm is (or would be), without building anything. */
function locate(version) {
  const dir = join(cacheRoot(), `helm-${version}`);
  const binDir = join(dir, 'bin');
  const helm = join(binDir, 'helm');
  // The marker is written before the directory is renamed into place, so a present marker means
  // a complete build; the binary is still checked in case someone pruned the cache by hand.
  const built = isFile(join(dir, MARKER)) && isExecutable(helm);
  return {
    helmVersion: version,
    binDir,
    helm,
    built,
    available: built,
    missing: built ? [] : [`helm ${version} (run \`npm run tools:helm\`)`],
  };
}

function build(version) {
  const { go, root, work } = prepareGoBuild('.build-helm-', `.build-helm-${version}-`);
  const started = Date.now();
  try {
    // A private build cache (about 1.2 GB), deleted with the work dir: the binary cache makes a
    // rebuild of the same release unnecessary. Downloaded modules stay in the shared module cache.
    const env = {
      ...process.env,
      CGO_ENABLED: '0',
      GOWORK: 'off',
      GOFLAGS: '',
      GOCACHE: join(work, 'gocache'),
    };
    const staged = join(work, 'out');
    const binDir = join(staged, 'bin');
    mkdirSync(binDir, { recursive: true });
    const mod = modulePath(version);
    // `go install pkg@version` builds in module-aware mode from the release's own go.mod (no
    // module of ours needed); without -X, `helm version` prints only "v4.3".
    const ldflags = [
      '-s',
      '-w',
      `-X ${mod}/internal/version.version=${version}`,
      `-X ${mod}/internal/version.gitTreeState=clean`,
    ].join(' ');
    log(`building helm ${version} with ${go} from the Go module proxy (a few minutes the first time)`);
    run(go, ['install', '-trimpath', `-ldflags=${ldflags}`, `${mod}/cmd/helm@${version}`], {
      env: { ...env, GOBIN: binDir },
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const helm = join(binDir, 'helm');
    const reported = run(helm, ['version', '--template', '{{.Version}}'], { env, cwd: work }).trim();
    if (reported !== version)
      throw new Error(`the built helm reports ${JSON.stringify(reported)}, expected ${version}`);
    const seconds = Math.round((Date.now() - started) / 1000);
    const goVersion = run(go, ['env', 'GOVERSION'], { env, cwd: work }).trim();
    writeFileSync(
      join(staged, MARKER),
      `${JSON.stringify({ helmVersion: version, module: mod, goVersion, buildSeconds: seconds }, null, 2)}\n`,
    );
    const final = join(root, `helm-${version}`);
    // Only a cache pruned by hand leaves an incomplete dir there; a concurrent run's is complete.
    if (!locate(version).built) rmSync(final, { recursive: true, force: true });
    try {
      renameSync(staged, final);
    } catch (err) {
      // Another run finished first; its build is as good as ours.
      if (!(err.code === 'ENOTEMPTY' || err.code === 'EEXIST') || !locate(version).built) throw err;
    }
    log(`built helm ${version} in ${seconds} s (${(statSync(join(final, 'bin', 'helm')).size / 1e6).toFixed(0)} MB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function main(argv) {
  const locateOnly = argv.includes('--locate');
  const json = argv.includes('--json') || locateOnly;
  let version;
  try {
    version = helmVersion();
  } catch (err) {
    log(err.message);
    process.exitCode = 2;
    return;
  }
  let found = locate(version);
  if (!locateOnly && !found.built) {
    try {
      build(version);
    } catch (err) {
      log(err instanceof Error ? err.message : String(err));
      if (inCi()) {
        process.exitCode = 1;
        return;
      }
      log('continuing without it: the chart tests that need helm will skip');
    }
    found = locate(version);
  }
  if (!locateOnly) {
    log(found.built ? `helm ${version}: ${found.helm}` : `helm ${version} MISSING`);
    if (!found.available && inCi()) process.exitCode = 1;
  }
  process.stdout.write(json ? `${JSON.stringify(found)}\n` : `${found.helm}\n`);
}

main(process.argv.slice(2));
