# meshguard container images, two targets from one build:
#
#   agent     (default) node carries the file capability cap_net_admin+ep, so the agent runs as
#             uid 65532 and still creates its TUN device and routes. A container from it needs
#             NET_ADMIN in its bounding set (Kubernetes: capabilities.add [NET_ADMIN]); without
#             it the kernel refuses to execute node at all (EPERM), by design of file capabilities.
#   operator  the same files with a plain node, for a container that drops ALL capabilities.
#
# Both: non-root (65532:65532), WORKDIR /app, ENTRYPOINT node, production dependencies only, the
# compiled dist/ of core, agent and operator, the N-API addon, crds/ (the operator's default CRD
# directory), Debian's Essential set for /bin/sh.
#
# Built by `npm run image` (scripts/image/build.sh), which first makes the local base images
# (scripts/image/base.sh: no image registry is needed). Needs BuildKit (Docker >= 23 by default;
# Debian's docker.io 20.10 with DOCKER_BUILDKIT=1): the classic builder's COPY --from loses the
# security.capability xattr (seen with Debian's 20.10 engine), so it would ship an agent image
# whose node has no capability. The npm cache mounts below make the classic builder refuse this
# file instead.
# Other base images: --build-arg BUILD_IMAGE=… (needs Node 24 with headers, npm, a C compiler,
# strip, setcap) and --build-arg RUNTIME_IMAGE=… (glibc, libstdc++, /bin/sh).
ARG BUILD_IMAGE=meshguard-build-debian:bookworm
ARG RUNTIME_IMAGE=meshguard-base-debian:bookworm

# Every dependency, for the compilers. Scripts off: the only install script is the `node`
# devDependency's download of a second Node binary, and the build image has Node already.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY agent/package.json agent/
COPY operator/package.json operator/
COPY test-e2e/package.json test-e2e/
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY core core
COPY agent agent
COPY operator operator
# .dockerignore keeps test/, bench/ and demo/ out of the context, so tsc -b compiles src/ only.
RUN node agent/native/build.js && node node_modules/typescript/bin/tsc -b core agent operator

# Production dependencies only: no TypeScript, eslint, prettier, fast-check, type packages or the
# `node` package, and only the workspaces the images run (npm ci needs every workspace's
# package.json to match the lockfile; test-e2e is not installed). The workspace links
# (node_modules/@meshguard/* -> ../../<workspace>) resolve to the directories assembled below.
FROM ${BUILD_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY agent/package.json agent/
COPY operator/package.json operator/
COPY test-e2e/package.json test-e2e/
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace core --workspace agent --workspace operator

# /app as the runtime images get it: JavaScript only. No sources, no TypeScript declarations or
# source maps, ours or the dependencies' (half of node_modules), and no @types packages (pulled in
# by @kubernetes/client-node; declarations only). Nothing loads any of them at run time.
FROM ${BUILD_IMAGE} AS app
COPY --from=production-dependencies /app /app
COPY --from=build /src/core/dist/src /app/core/dist/src
COPY --from=build /src/agent/dist/src /app/agent/dist/src
COPY --from=build /src/agent/bin /app/agent/bin
COPY --from=build /src/agent/native/build/meshguard_tun.node /app/agent/native/build/meshguard_tun.node
COPY --from=build /src/operator/dist/src /app/operator/dist/src
COPY crds /app/crds
RUN rm -rf /app/test-e2e \
 && find /app/node_modules -depth -type d -path '*/node_modules/@types' -exec rm -rf {} + \
 && find /app -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -delete \
 && chmod -R a+rX,go-w /app

# Node without its symbol table (126 MB -> 108 MB; .dynsym stays, so addons still link).
FROM ${BUILD_IMAGE} AS node
RUN mkdir -p /opt/node && strip --strip-all -o /opt/node/node /usr/local/bin/node && /opt/node/node --version

FROM node AS node-net-admin
RUN setcap cap_net_admin+ep /opt/node/node \
 && getcap /opt/node/node | grep -q 'cap_net_admin[=+]ep'

FROM ${RUNTIME_IMAGE} AS runtime
# An account for uid 65532 (a home directory is not needed: the agent's config dir is a volume),
# and `meshguard` on PATH for `kubectl exec … meshguard status`.
RUN echo 'meshguard:x:65532:65532:meshguard:/nonexistent:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'meshguard:x:65532:' >>/etc/group \
 && ln -s /app/agent/bin/meshguard.js /usr/local/bin/meshguard
ENV NODE_ENV=production
WORKDIR /app
USER 65532:65532
ENTRYPOINT ["node"]

FROM runtime AS operator
COPY --from=node /opt/node/node /usr/local/bin/node
COPY --from=app /app /app
CMD ["/app/operator/dist/src/app/main.js"]

FROM runtime AS agent
COPY --from=node-net-admin /opt/node/node /usr/local/bin/node
COPY --from=app /app /app
CMD ["/app/agent/dist/src/cli/main.js", "--help"]
