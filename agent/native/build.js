// Builds the native addon (build/meshguard_tun.node: TUN, rtnetlink, ChaCha20-Poly1305) with the
// system C compiler, without node-gyp:
// node-gyp would download Node headers, and installs here reach package registries only.
// Node-API is ABI-stable, so any recent node_api.h works for every Node that loads the result.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = join(here, 'src');
const output = join(here, 'build', 'meshguard_tun.node');

/** Where node_api.h and uv.h may be, best first. */
function headerCandidates() {
  const binDir = dirname(process.execPath);
  const arch = `node-${process.platform}-${process.arch}`;
  const dirs = [];
  if (process.env.MESHGUARD_NODE_INCLUDE) dirs.push(process.env.MESHGUARD_NODE_INCLUDE);
  // Official tarball layout: bin/node next to include/node.
  dirs.push(join(binDir, '..', 'include', 'node'));
  try {
    dirs.push(join(dirname(realpathSync(process.execPath)), '..', 'include', 'node'));
  } catch {
    // execPath always resolves; nothing to add if it somehow does not.
  }
  // npm's `node` package: bin/node is a copy of node-<platform>-<arch>/bin/node, which ships include/.
  dirs.push(join(binDir, '..', 'node_modules', arch, 'include', 'node'));
  dirs.push(join(here, '..', '..', 'node_modules', arch, 'include', 'node'));
  dirs.push('/usr/include/node', '/usr/local/include/node');
  return dirs;
}

function findHeaders() {
  const candidates = headerCandidates();
  const hasNodeApi = (d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h'));
  // aead.c calls the OpenSSL inside node, so prefer a directory that also ships node's OpenSSL
  // headers; otherwise <openssl/evp.h> falls through to the system's (its EVP API is the same).
  const found =
    candidates.find((d) => hasNodeApi(d) && existsSync(join(d, 'openssl', 'evp.h'))) ?? candidates.find(hasNodeApi);
  if (found === undefined) {
    throw new Error(
      `node_api.h and uv.h not found; looked in:\n  ${candidates.join('\n  ')}\n` +
        'Install Node headers (Debian: libnode-dev) or set MESHGUARD_NODE_INCLUDE.',
    );
  }
  return found;
}

function upToDate(sources) {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  const inputs = [...sources, ...readdirSync(sourceDir).map((f) => join(sourceDir, f)), fileURLToPath(import.meta.url)];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

function build() {
  const sources = readdirSync(sourceDir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => join(sourceDir, f));
  if (upToDate(sources)) return;
  const include = findHeaders();
  mkdirSync(dirname(output), { recursive: true });
  // Compile to a temporary name and rename, so a concurrent loader never sees a half-written file.
  const temporary = `${output}.${process.pid}.tmp`;
  const compiler = process.env.CC ?? 'cc';
  const args = [
    '-std=gnu11',
    '-O2',
    '-fPIC',
    '-shared',
    '-fvisibility=hidden',
    '-Wall',
    '-Wextra',
    '-D_GNU_SOURCE',
    '-isystem',
    include,
    '-o',
    temporary,
    ...sources,
  ];
  process.stdout.write(`meshguard_tun: ${compiler} (headers: ${include})\n`);
  try {
    execFileSync(compiler, args, { stdio: 'inherit' });
    renameSync(temporary, output);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

if (process.platform !== 'linux') {
  // The addon is Linux-only (TUN via /dev/net/tun, rtnetlink); elsewhere the JS wrapper reports it missing.
  process.stdout.write('meshguard_tun: not Linux, skipping the native build\n');
} else {
  try {
    build();
  } catch (err) {
    process.stderr.write(`meshguard_tun: build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
