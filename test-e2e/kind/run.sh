#!/usr/bin/env bash
# meshguard on a 3-node kind cluster: build the images, load them, helm install, apply a
# MeshOrg, wait for every Node's MeshNode to be certified, then ping across every pair of Nodes
# over the mesh. For machines with Docker and internet (kind pulls kindest/node); the local
# end-to-end test (test-e2e/test/local-cluster.test.ts) covers the same path without them.
#
#   test-e2e/kind/run.sh            # create, test, delete
#   KEEP_CLUSTER=1 test-e2e/kind/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${KIND_CLUSTER:-meshguard-e2e}"
NAMESPACE=meshguard-system
ORG=kind-e2e
VERSION="$(node -p 'require("./package.json").version')"

skip() {
  echo "kind e2e skipped: $*" >&2
  exit 2
}
for bin in docker kind kubectl helm; do
  command -v "$bin" >/dev/null || skip "$bin not found on PATH"
done
docker info >/dev/null 2>&1 || skip "the Docker engine is not running"
docker image inspect kindest/node >/dev/null 2>&1 || curl -fsS -m 5 -o /dev/null https://registry-1.docker.io/v2/ 2>/dev/null ||
  [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/)" = 401 ] ||
  skip "no kindest/node image and Docker Hub is unreachable"

cleanup() {
  if [ -z "${KEEP_CLUSTER:-}" ]; then kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

npm run image
kind create cluster --name "$CLUSTER" --config test-e2e/kind/kind-config.yaml --wait 120s
kind load docker-image --name "$CLUSTER" "meshguard:$VERSION" "meshguard-operator:$VERSION"

helm install meshguard charts/meshguard --namespace "$NAMESPACE" --create-namespace \
  --set org="$ORG" --set image.pullPolicy=Never --wait --timeout 180s
kubectl apply -f - <<YAML
apiVersion: meshguard.dev/v1alpha1
kind: MeshOrg
metadata: { name: $ORG }
spec: { enrollmentPolicy: AutoInCluster }
YAML

nodes=($(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'))
echo "waiting for ${#nodes[@]} MeshNodes to be Ready"
for node in "${nodes[@]}"; do
  for _ in $(seq 120); do
    kubectl get meshnode "$node" >/dev/null 2>&1 && break
    sleep 1
  done
  kubectl wait --for=condition=Ready --timeout=120s "meshnode/$node"
done
kubectl rollout status -n "$NAMESPACE" daemonset/meshguard-agent --timeout=180s
kubectl get meshnodes -o wide

# Every agent runs with hostNetwork, so mg0 lives in the kind node container's namespace.
failures=0
for from in "${nodes[@]}"; do
  for to in "${nodes[@]}"; do
    [ "$from" = "$to" ] && continue
    ip="$(kubectl get meshnode "$to" -o jsonpath='{.status.meshIPv4}')"
    if docker exec "$from" ping -c 3 -W 2 "$ip" >/dev/null; then
      echo "ok   $from -> $to ($ip)"
    else
      echo "FAIL $from -> $to ($ip)"
      failures=$((failures + 1))
    fi
  done
done
((failures == 0)) || {
  kubectl logs -n "$NAMESPACE" -l app.kubernetes.io/component=agent --tail=50
  exit 1
}
echo "kind e2e: ${#nodes[@]} nodes, full mesh"
