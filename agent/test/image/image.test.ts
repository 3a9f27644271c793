import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isRoot, requireCapability } from '@meshguard/core/testing';
import { findBinary, tunAvailable, type Availability } from '../support/capabilities.js';
import { run, tryRun, type RunResult } from '../support/process.js';

/**
 * The container images from the Dockerfile, built by scripts/image/build.sh with the local
 * Docker engine (started if needed) and checked from outside: user, file capability, contents,
 * entry points. The build runs every time; Docker's layer cache makes it seconds when nothing in
 * the build context changed, so the images tested are always the ones the sources make.
 */

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const BUILD_SCRIPT = `${REPO}scripts/image/build.sh`;
/** A cold build (base images from the Debian mirror, npm ci twice, tsc) takes minutes; a hung one must still end. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
const RUN_TIMEOUT_MS = 60_000;
const CAP_NET_ADMIN = 1n << 12n;
/** vfs_cap_data revision 2 with the effective bit: `+ep`. */
const VFS_CAP_REVISION_2 = 0x0200_0000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x1;

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(`${REPO}${path}`, 'utf8'));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(value: unknown, key: string): string {
  assert.ok(isRecord(value), `expected an object with ${key}`);
  const field = value[key];
  if (typeof field !== 'string') assert.fail(`${key} is not a string: ${JSON.stringify(field)}`);
  return field;
}

function recordField(value: unknown, key: string): Record<string, unknown> {
  assert.ok(isRecord(value), `expected an object with ${key}`);
  const field = value[key];
  return isRecord(field) ? field : {};
}

const version = stringField(readJson('agent/package.json'), 'version');
const lock = readJson('package-lock.json');
const nodeVersion = stringField(recordField(recordField(lock, 'packages'), 'node_modules/node'), 'version');
const repository = process.env['MESHGUARD_IMAGE'] ?? 'meshguard';
const AGENT = `${repository}:${version}`;
const OPERATOR = `${repository}-operator:${version}`;

function imageAvailable(): Availability {
  const missing: string[] = [];
  if (findBinary('docker') === null) missing.push('docker not found on PATH (Debian package docker.io)');
  if (findBinary('mmdebstrap') === null) missing.push('mmdebstrap not found on PATH (Debian package mmdebstrap)');
  if (!isRoot()) missing.push('needs root (mmdebstrap --mode=root builds the local base images)');
  if (missing.length > 0) return { available: false, reason: missing.join('; ') };
  // build.sh starts the engine when it does not answer.
  if (findBinary('dockerd') === null && tryRun(['docker', 'info'], { timeoutMs: 30_000 }).status !== 0) {
    return { available: false, reason: 'the Docker engine does not answer and dockerd is not installed (docker.io)' };
  }
  return { available: true, reason: 'docker, mmdebstrap and root available' };
}

/** `docker run --rm` of one image; argv goes after the image (the entrypoint is node). */
function dockerRun(image: string, argv: readonly string[], options: readonly string[] = []): RunResult {
  return tryRun(['docker', 'run', '--rm', ...options, image, ...argv], { timeoutMs: RUN_TIMEOUT_MS });
}

/** Runs a Node script (an ES module) in the image and parses the JSON it prints. */
function nodeJson(image: string, script: string, options: readonly string[] = []): unknown {
  const r = dockerRun(image, ['--input-type=module', '-e', script], options);
  assert.equal(r.status, 0, `node in ${image} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** CapPrm, CapEff and ids of a node process started in the image. */
const PROCESS_SCRIPT = `
import { readFileSync } from 'node:fs';
const status = readFileSync('/proc/self/status', 'utf8');
const field = (name) => new RegExp('^' + name + ':\\\\s*(\\\\S+)', 'm').exec(status)[1];
process.stdout.write(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), prm: field('CapPrm'), eff: field('CapEff') }));
`;

interface ImageConfig {
  readonly user: string;
  readonly workingDir: string;
  readonly entrypoint: unknown;
  readonly cmd: unknown;
}

function imageConfig(image: string): ImageConfig {
  const config: unknown = JSON.parse(run(['docker', 'image', 'inspect', '-f', '{{json .Config}}', image]));
  return {
    user: stringField(config, 'User'),
    workingDir: stringField(config, 'WorkingDir'),
    entrypoint: isRecord(config) ? config['Entrypoint'] : undefined,
    cmd: isRecord(config) ? config['Cmd'] : undefined,
  };
}

/**
 * The security.capability xattr of a file in an image, from the PAX header that `docker cp`
 * writes for it (`SCHILY.xattr.security.capability`), or null when the file has none. Only the
 * first headers are read; the copy is stopped there.
 */
async function fileCapability(image: string, path: string): Promise<Buffer | null> {
  const container = run(['docker', 'create', image]).trim();
  try {
    const child = spawn('docker', ['cp', `${container}:${path}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let length = 0;
    const head = await new Promise<Buffer>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        if (length >= 4096) {
          child.kill('SIGKILL');
          resolve(Buffer.concat(chunks));
        }
      });
      child.on('error', reject);
      child.on('close', () => resolve(Buffer.concat(chunks)));
    });
    assert.ok(head.length >= 512, `docker cp ${path} produced no tar header`);
    // ustar: type flag at 156, size in octal at 124; 'x' is a PAX extended header for the next entry.
    if (String.fromCharCode(head[156] ?? 0) !== 'x') return null;
    const size = Number.parseInt(head.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim(), 8);
    let records = head.subarray(512, 512 + size);
    while (records.length > 0) {
      const space = records.indexOf(0x20);
      const recordLength = Number.parseInt(records.subarray(0, Math.max(space, 0)).toString('latin1'), 10);
      assert.ok(space > 0 && recordLength > space && recordLength <= records.length, 'malformed PAX header');
      const record = records.subarray(space + 1, recordLength - 1); // without the trailing newline
      const equals = record.indexOf(0x3d);
      if (record.subarray(0, equals).toString('latin1') === 'SCHILY.xattr.security.capability') {
        return Buffer.from(record.subarray(equals + 1));
      }
      records = records.subarray(recordLength);
    }
    return null;
  } finally {
    spawnSync('docker', ['rm', '-f', container], { timeout: RUN_TIMEOUT_MS });
  }
}

test('container images (Dockerfile): build, user, file capability, contents, entry points', async (t) => {
  const availability = imageAvailable();
  if (!requireCapability(t, availability.available, availability.reason)) return;

  const started = Date.now();
  const build = tryRun([BUILD_SCRIPT], { timeoutMs: BUILD_TIMEOUT_MS });
  assert.equal(build.status, 0, `scripts/image/build.sh failed:\n${build.stdout}\n${build.stderr}`);
  t.diagnostic(`build.sh took ${((Date.now() - started) / 1000).toFixed(1)} s (seconds when the layer cache is warm)`);
  for (const line of build.stdout.trim().split('\n')) t.diagnostic(line);

  await t.test('both images run as 65532:65532 in /app with node as the entrypoint', () => {
    for (const image of [AGENT, OPERATOR]) {
      const config = imageConfig(image);
      assert.equal(config.user, '65532:65532', image);
      assert.equal(config.workingDir, '/app', image);
      assert.deepEqual(config.entrypoint, ['node'], image);
    }
    assert.deepEqual(imageConfig(AGENT).cmd, ['/app/agent/dist/src/cli/main.js', '--help']);
    assert.deepEqual(imageConfig(OPERATOR).cmd, ['/app/operator/dist/src/app/main.js']);
  });

  await t.test("the agent image's node has cap_net_admin+ep, the operator image's none", async () => {
    const capability = await fileCapability(AGENT, '/usr/local/bin/node');
    assert.ok(capability !== null, 'no security.capability xattr on the agent image node');
    assert.ok(capability.length >= 20, `short security.capability xattr (${capability.length} bytes)`);
    const magic = capability.readUInt32LE(0);
    assert.equal(magic & 0xff00_0000, VFS_CAP_REVISION_2, 'vfs_cap_data revision');
    assert.equal(magic & VFS_CAP_FLAGS_EFFECTIVE, VFS_CAP_FLAGS_EFFECTIVE, 'effective bit (+e)');
    const permitted = BigInt(capability.readUInt32LE(4)) | (BigInt(capability.readUInt32LE(12)) << 32n);
    const inheritable = BigInt(capability.readUInt32LE(8)) | (BigInt(capability.readUInt32LE(16)) << 32n);
    assert.equal(permitted, CAP_NET_ADMIN, 'permitted set (+p) is exactly cap_net_admin');
    assert.equal(inheritable, 0n, 'inheritable set');
    assert.equal(await fileCapability(OPERATOR, '/usr/local/bin/node'), null);
  });

  await t.test('as uid 65532 the agent gets exactly CAP_NET_ADMIN, and needs it in the bounding set', () => {
    const agent = nodeJson(AGENT, PROCESS_SCRIPT, ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN']);
    assert.deepEqual(agent, { uid: 65532, gid: 65532, prm: '0000000000001000', eff: '0000000000001000' });
    // The kernel refuses to execute a +ep file whose capability the bounding set lacks (Docker's
    // default set, or a pod that drops ALL): that is why the operator has its own image.
    const refused = dockerRun(AGENT, ['--version'], ['--cap-drop', 'ALL']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /operation not permitted/i);
    const operator = nodeJson(OPERATOR, PROCESS_SCRIPT, ['--cap-drop', 'ALL']);
    assert.deepEqual(operator, { uid: 65532, gid: 65532, prm: '0000000000000000', eff: '0000000000000000' });
  });

  await t.test('production dependencies only, JavaScript only', () => {
    const root = readJson('package.json');
    const devDependencies = Object.keys(recordField(root, 'devDependencies'));
    assert.ok(devDependencies.includes('typescript') && devDependencies.includes('fast-check'));
    const dependencies = ['core', 'agent', 'operator'].flatMap((w) =>
      Object.keys(recordField(readJson(`${w}/package.json`), 'dependencies')),
    );
    const script = `
      import { existsSync } from 'node:fs';
      import { execFileSync } from 'node:child_process';
      const names = ${JSON.stringify([...devDependencies, ...dependencies])};
      const present = names.filter((n) => existsSync('/app/node_modules/' + n));
      const strays = ['/app/core/src', '/app/agent/src', '/app/operator/src', '/app/agent/dist/test',
        '/app/operator/dist/test', '/app/agent/dist/bench', '/app/agent/native/src', '/app/test-e2e', '/app/.git'].filter((p) => existsSync(p));
      const typescript = execFileSync('find', ['/app', '-name', '*.ts', '-o', '-name', '*.map'], { encoding: 'utf8' })
        .split('\\n').filter((l) => l !== '').length;
      process.stdout.write(JSON.stringify({ present, strays, typescript }));
    `;
    const result = nodeJson(OPERATOR, script, ['--cap-drop', 'ALL']);
    assert.ok(isRecord(result));
    const present = result['present'];
    assert.ok(Array.isArray(present));
    assert.deepEqual(
      devDependencies.filter((d) => present.includes(d)),
      [],
      'devDependencies in /app/node_modules',
    );
    assert.deepEqual(
      dependencies.filter((d) => !present.includes(d)),
      [],
      'dependencies missing from /app/node_modules',
    );
    assert.deepEqual(result['strays'], [], 'sources or tests in the image');
    assert.equal(result['typescript'], 0, '.ts or .map files in the image');
  });

  await t.test('the agent CLI runs: default command, --version, `agent` usage, meshguard on PATH', () => {
    const withCap = ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN'];
    const help = dockerRun(AGENT, [], withCap);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^usage: meshguard <command>/);
    const expected = `meshguard ${version} (meshguard 0.10.0 wire protocol; node v${nodeVersion})`;
    const versionRun = dockerRun(AGENT, ['/app/agent/dist/src/cli/main.js', '--version'], withCap);
    assert.equal(versionRun.status, 0, versionRun.stderr);
    assert.equal(versionRun.stdout.trim(), expected);
    const onPath = tryRun(['docker', 'run', '--rm', ...withCap, '--entrypoint', 'meshguard', AGENT, 'version'], {
      timeoutMs: RUN_TIMEOUT_MS,
    });
    assert.equal(onPath.status, 0, onPath.stderr);
    assert.equal(onPath.stdout.trim(), expected);
    // The chart's agent command; a bad flag is a usage error (2) after the command's modules loaded.
    const agent = dockerRun(AGENT, ['/app/agent/dist/src/cli/main.js', 'agent', '--no-such-flag'], withCap);
    assert.equal(agent.status, 2, agent.stderr);
    assert.match(
      agent.stderr,
      /^meshguard agent: Unknown option '--no-such-flag' \(usage: meshguard agent --node-name/,
    );
  });

  await t.test('the operator main.js loads and rejects a bad flag with one JSON error line', () => {
    for (const [image, options] of [
      [OPERATOR, ['--cap-drop', 'ALL']],
      [AGENT, ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN']],
    ] as const) {
      const r = dockerRun(image, ['/app/operator/dist/src/app/main.js', '--no-such-flag'], options);
      assert.equal(r.status, 1, `${image}: ${r.stderr}`);
      const line: unknown = JSON.parse(r.stderr.trim());
      assert.equal(stringField(line, 'level'), 'error');
      assert.equal(stringField(line, 'msg'), 'operator failed to start');
      assert.match(stringField(line, 'err'), /Unknown option '--no-such-flag'/);
    }
  });

  await t.test('the addon loads, and the CRDs are where the operator looks for them', () => {
    const script = `
      const { tunBinding } = await import('/app/agent/dist/src/net/tun-binding.js');
      const binding = tunBinding();
      const { loadCrdManifests } = await import('/app/operator/dist/src/api/crd-manifests.js');
      const crds = (await loadCrdManifests()).map((c) => c.name).sort();
      process.stdout.write(JSON.stringify({ open: typeof binding.open, crds }));
    `;
    assert.deepEqual(nodeJson(OPERATOR, script, ['--cap-drop', 'ALL']), {
      open: 'function',
      crds: ['meshnodes.meshguard.dev', 'meshorgs.meshguard.dev'],
    });
  });

  await t.test('non-root, the agent image creates and configures a TUN device (the operator image cannot)', (t2) => {
    const tun = tunAvailable();
    if (!requireCapability(t2, tun.available, tun.reason)) return;
    // `--device` gives the container the host node's mode: 0666 where udev runs (its rule for
    // tun), 0600 on a bare devtmpfs such as this test VM's, which no non-root process opens. A
    // 0666 node of the same device (10:200) in a private directory keeps this test about
    // capabilities, not about the host's udev rules.
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-image-'));
    t2.after(() => rmSync(dir, { recursive: true, force: true }));
    const device = join(dir, 'tun');
    run(['mknod', '-m', '0666', device, 'c', '10', '200']);
    const script = `
      import { networkInterfaces } from 'node:os';
      const { TunDevice } = await import('/app/agent/dist/src/net/tun-device.js');
      try {
        const tun = TunDevice.open('mg0');
        tun.configure({ mtu: 1420, addresses: ['10.99.1.2/16'], up: true });
        const addresses = (networkInterfaces()['mg0'] ?? []).map((a) => a.address);
        tun.close();
        process.stdout.write(JSON.stringify({ uid: process.getuid(), addresses }));
      } catch (err) {
        process.stdout.write(JSON.stringify({ uid: process.getuid(), error: err.cause?.code ?? err.code ?? String(err) }));
      }
    `;
    const options = ['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--device', `${device}:/dev/net/tun`];
    assert.deepEqual(nodeJson(AGENT, script, options), { uid: 65532, addresses: ['10.99.1.2'] });
    const operator = nodeJson(OPERATOR, script, options);
    assert.ok(isRecord(operator) && typeof operator['error'] === 'string', JSON.stringify(operator));
    assert.equal(operator['error'], 'EPERM');
  });
});
