#!/usr/bin/env bash
# Builds the meshguard container images with the local Docker engine (Debian's docker.io):
# starts the engine if needed, makes the local base images (base.sh), then builds both targets
# of the Dockerfile and tags them
#
#   ${MESHGUARD_IMAGE:-meshguard}:<version> and :latest            target agent (node has cap_net_admin+ep)
#   ${MESHGUARD_IMAGE:-meshguard}-operator:<version> and :latest   target operator (plain node)
#
# <version> is agent/package.json's. Docker's layer cache makes a rebuild with unchanged
# sources take seconds. Needs BuildKit (see the Dockerfile): `docker buildx` where the plugin is
# installed, else the builtin BuildKit of a docker CLI older than 23 (Debian's docker.io 20.10,
# /usr/bin/docker, also when a newer CLI without buildx comes first on PATH).
# After the build, the agent image is run once to prove that node gets CAP_NET_ADMIN as uid 65532.
# Prints one line per image: name, size, build time. MESHGUARD_IMAGE_VERBOSE=1 shows the build log.
set -euo pipefail
cd "$(dirname "$0")/../.."

repository="${MESHGUARD_IMAGE:-meshguard}"
version="$(sed -n 's/^ *"version": "\([^"]*\)".*/\1/p' agent/package.json | head -n 1)"
die() {
  echo "image: $*" >&2
  exit 1
}
[[ -n "$version" ]] || die "no version in agent/package.json"

scripts/image/docker-daemon.sh
scripts/image/base.sh

# The command that builds with BuildKit, as an array.
buildkit=()
for client in docker /usr/bin/docker; do
  command -v "$client" >/dev/null || continue
  if "$client" buildx version >/dev/null 2>&1; then
    buildkit=("$client" buildx build --load)
    break
  fi
  major="$("$client" version -f '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)"
  if [[ "$major" =~ ^[0-9]+$ ]] && ((major < 23)); then
    buildkit=(env DOCKER_BUILDKIT=1 "$client" build)
    break
  fi
done
((${#buildkit[@]})) || die "no docker CLI that builds with BuildKit (install Debian's docker.io, or the buildx plugin)"

log="$(mktemp "${TMPDIR:-/tmp}/meshguard-image-build.XXXXXX")"
trap 'rm -f "$log"' EXIT

build() {
  local target="$1" name="$2" start=$SECONDS status=0
  if [[ "${MESHGUARD_IMAGE_VERBOSE:-0}" == 1 ]]; then
    "${buildkit[@]}" --progress=plain --target "$target" --label "org.opencontainers.image.version=$version" \
      -t "$name:$version" -t "$name:latest" . || status=$?
  else
    "${buildkit[@]}" --progress=plain --target "$target" --label "org.opencontainers.image.version=$version" \
      -t "$name:$version" -t "$name:latest" . >"$log" 2>&1 || status=$?
    ((status == 0)) || tail -n 60 "$log" >&2
  fi
  ((status == 0)) || die "docker build --target $target failed"
  local size
  size="$(docker image inspect -f '{{.Size}}' "$name:$version")"
  echo "image: $name:$version ($target) $(numfmt --to=iec --format=%.1f "$size") built in $((SECONDS - start)) s"
}

build agent "$repository"
build operator "$repository-operator"

# The file capability survived the build (a builder that drops it makes an agent that cannot
# create its TUN device): as uid 65532 with only NET_ADMIN in the bounding set, node's effective
# capabilities must be exactly CAP_NET_ADMIN (bit 12).
caps="$(docker run --rm --cap-drop ALL --cap-add NET_ADMIN "$repository:$version" \
  -e 'process.stdout.write(/^CapEff:\s*(\S+)/m.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1])')"
[[ "$caps" == 0000000000001000 ]] || die "$repository:$version: node runs with CapEff $caps, expected 0000000000001000 (cap_net_admin+ep lost)"
# Images replaced by a rebuild stay behind as dangling images; drop them (ignores failures:
# a dangling image a container still uses is kept).
mapfile -t dangling < <(docker images -q --filter dangling=true)
((${#dangling[@]} == 0)) || docker rmi "${dangling[@]}" >/dev/null 2>&1 || true
