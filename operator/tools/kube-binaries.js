#!/usr/bin/env node
// Provides the Kubernetes control-plane binaries for the operator's integration tests
// (DESIGN.md §9 level 3): kube-apiserver and kube-controller-manager built with the Go toolchain
// from the Go module proxy, and etcd from Debian's etcd-server package.
//
// Upstream publishes no kube-apiserver in any registry this project can reach, so we build it.
// The build is slow (minutes) and large, so it lives in a cache outside the repository and is
// reused across runs and clones; a cached run only checks that the files are there.
//
// Usage:
//   node operator/tools/kube-binaries.js           build if needed; print the bin dir on stdout
//   node operator/tools/kube-binaries.js --json    same, but print every path as JSON
//   node operator/tools/kube-binaries.js --locate  never build; JSON of what is there (for tests)
//
// Environment: MESHGUARD_TOOLS_CACHE (cache root, default ~/.cache/meshguard-tools),
// MESHGUARD_KUBE_VERSION (to try another release), CI (a failure exits non-zero under CI;
// on a laptop it only warns, so `npm test` still runs and the Kubernetes tests skip with a reason).

import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { cacheRoot, findExecutable, inCi, isExecutable, isFile, logger, prepareGoBuild, run } from './tool-cache.js';

// The newest release on the module proxy; it builds with Go 1.26 and runs on Debian bookworm's
// etcd 3.4.23, which is older than upstream supports (kubeadm asks for 3.5.24+): the API server
// detects that and falls back to paginated lists and etcd-served consistent reads, which
// changes speed, not what clients see.
const DEFAULT_KUBE_VERSION = 'v1.37.2';
// kubectl: the end-to-end tests drive the cluster the way users do (`kubectl patch`, `kubectl apply`).
const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kubectl'];
const MARKER = 'BUILD-INFO.json';

const log = logger('kube-binaries');

function kubeVersion() {
  const v = process.env.MESHGUARD_KUBE_VERSION;
  return v !== undefined && v !== '' ? v : DEFAULT_KUBE_VERSION;
}

function etcdInfo() {
  const path = findExecutable('etcd');
  if (path === null) return { etcd: null, etcdVersion: null };
  const out = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const match = /etcd Version:\s*(\S+)/.exec(out.stdout ?? '');
  return { etcd: path, etcdVersion: match?.[1] ?? null };
}

/** Where everything is (or would be), without building anything. */
function locate(version = kubeVersion()) {
  const dir = join(cacheRoot(), `kubernetes-${version}`);
  const binDir = join(dir, 'bin');
  // The marker is written before the directory is renamed into place, so a present marker means
  // a complete build; binaries are still checked in case someone pruned the cache by hand.
  const complete = isFile(join(dir, MARKER));
  const paths = Object.fromEntries(BINARIES.map((b) => [b, join(binDir, b)]));
  const built = complete && BINARIES.every((b) => isExecutable(paths[b]));
  const { etcd, etcdVersion } = etcdInfo();
  const missing = [];
  if (!built)
    missing.push(`kube-apiserver, kube-controller-manager and kubectl ${version} (run \`npm run tools:kube\`)`);
  if (etcd === null) missing.push('etcd (Debian package etcd-server)');
  return {
    kubernetesVersion: version,
    binDir,
    kubeApiserver: paths['kube-apiserver'],
    kubeControllerManager: paths['kube-controller-manager'],
    kubectl: paths['kubectl'],
    built,
    etcd,
    etcdVersion,
    available: missing.length === 0,
    missing,
  };
}

/** Bytes of module zips in the download cache: what a build fetched from the proxy is the growth. */
function downloadCacheBytes(modCache) {
  let total = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.zip') || e.name.endsWith('.mod')) total += statSync(p).size;
    }
  };
  walk(join(modCache, 'cache', 'download'));
  return total;
}

/**
 * k8s.io/kubernetes points every k8s.io/* staging module at ./staging/src, which is not part of
 * its module zip, so a build that depends on it must replace each with the published v0.X.Y.
 * The list is read from that release's own go.mod, so a new release needs no edit here.
 */
function stagingReplaces(go, version, env, cwd) {
  const info = JSON.parse(run(go, ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], { env, cwd }));
  const goMod = readFileSync(info.GoMod, 'utf8');
  const staging = [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\/src\/\1\s*$/gm)].map((m) => m[1]);
  if (staging.length === 0) throw new Error(`no staging replaces found in k8s.io/kubernetes@${version}'s go.mod`);
  const goLine = /^go\s+(\S+)\s*$/m.exec(goMod)?.[1] ?? '1.26.0';
  return { staging, goLine, stagingVersion: version.replace(/^v1\./, 'v0.') };
}

function build(version) {
  const { go, root, work } = prepareGoBuild('.build-', `.build-kubernetes-${version}-`);
  const started = Date.now();
  try {
    // A private build cache, deleted with the work dir: it grows to about 3.5 GB for these two
    // binaries and would only be reused by a rebuild of the same release, which the binary cache
    // already makes unnecessary. Downloaded modules stay in the shared module cache.
    const env = {
      ...process.env,
      GOFLAGS: '-mod=mod',
      CGO_ENABLED: '0',
      GOWORK: 'off',
      GOCACHE: join(work, 'gocache'),
    };
    const modDir = join(work, 'module');
    mkdirSync(modDir);
    const modCache = run(go, ['env', 'GOMODCACHE'], { env, cwd: modDir }).trim();
    const downloadedBefore = downloadCacheBytes(modCache);

    const { staging, goLine, stagingVersion } = stagingReplaces(go, version, env, modDir);
    const goMod = [
      'module meshguard.invalid/kube-tools',
      '',
      `go ${goLine}`,
      '',
      `require k8s.io/kubernetes ${version}`,
      '',
      'replace (',
      ...staging.map((m) => `\t${m} => ${m} ${stagingVersion}`),
      ')',
      '',
    ].join('\n');
    // No Go source of our own: with -mod=mod, `go build` of the dependency's packages resolves
    // the rest of the module graph and writes go.sum, checked against the checksum database.
    writeFileSync(join(modDir, 'go.mod'), goMod);

    const final = join(root, `kubernetes-${version}`);
    const staged = join(work, 'out');
    const binDir = join(staged, 'bin');
    mkdirSync(binDir, { recursive: true });
    const major = /^v(\d+)\./.exec(version)?.[1] ?? '1';
    const minor = /^v\d+\.(\d+)\./.exec(version)?.[1] ?? '0';
    // Without these the servers report v0.0.0-master, which clients and kubectl warn about.
    const versionFlags = [
      `-X k8s.io/component-base/version.gitVersion=${version}`,
      `-X k8s.io/component-base/version.gitMajor=${major}`,
      `-X k8s.io/component-base/version.gitMinor=${minor}`,
      '-X k8s.io/component-base/version.gitTreeState=clean',
      `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
      `-X k8s.io/client-go/pkg/version.gitMajor=${major}`,
      `-X k8s.io/client-go/pkg/version.gitMinor=${minor}`,
    ].join(' ');
    log(`building ${BINARIES.join(', ')} ${version} with ${go} (several minutes the first time)`);
    run(
      go,
      [
        'build',
        '-trimpath',
        `-ldflags=-s -w ${versionFlags}`,
        '-o',
        binDir + '/',
        ...BINARIES.map((b) => `k8s.io/kubernetes/cmd/${b}`),
      ],
      { env, cwd: modDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    const downloadedBytes = Math.max(0, downloadCacheBytes(modCache) - downloadedBefore);
    const goVersion = run(go, ['env', 'GOVERSION'], { env, cwd: modDir }).trim();
    writeFileSync(
      join(staged, MARKER),
      `${JSON.stringify({ kubernetesVersion: version, goVersion, buildSeconds: seconds, downloadedBytes, goMod }, null, 2)}\n`,
    );
    // Only a cache pruned by hand leaves an incomplete dir there; a concurrent run's is complete.
    if (!locate(version).built) rmSync(final, { recursive: true, force: true });
    try {
      renameSync(staged, final);
    } catch (err) {
      // Another run finished first; its build is as good as ours.
      if (!(err.code === 'ENOTEMPTY' || err.code === 'EEXIST') || !locate(version).built) throw err;
    }
    log(
      `built in ${seconds} s; fetched ${(downloadedBytes / 1e6).toFixed(0)} MB of modules; ` +
        `binaries ${BINARIES.map((b) => `${b} ${(statSync(join(final, 'bin', b)).size / 1e6).toFixed(0)} MB`).join(', ')}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function main(argv) {
  const locateOnly = argv.includes('--locate');
  const json = argv.includes('--json') || locateOnly;
  const version = kubeVersion();
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
      log('continuing without them: the Kubernetes integration tests will skip');
    }
    found = locate(version);
  }
  if (!locateOnly) {
    log(`${found.built ? 'kube binaries' : 'kube binaries MISSING'}: ${found.binDir}`);
    log(
      found.etcd !== null
        ? `etcd ${found.etcdVersion ?? '?'}: ${found.etcd}`
        : 'etcd MISSING: install the Debian package etcd-server',
    );
    if (!found.available && inCi()) process.exitCode = 1;
  }
  process.stdout.write(json ? `${JSON.stringify(found)}\n` : `${found.binDir}\n`);
}

main(process.argv.slice(2));
