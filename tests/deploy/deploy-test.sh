#!/usr/bin/env bash
# ctest deploy_manifests (label deploy): renders deploy/ and deploy/overlays/embedded/ offline
# with `kubectl kustomize`, checks both against the Kubernetes schema and the deployment
# deploy/README.md describes (check-manifests.mjs), and loads their config.yaml files with the
# processor built here, so a key the processor does not know fails here and not in a pod.
# Usage: tests/deploy/deploy-test.sh BINARY VERSION   (scripts/install-deps.sh installs the tools)
set -euo pipefail
binary="$1"
version="$2"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

command -v kubectl >/dev/null || { echo "deploy-test: no kubectl (scripts/install-deps.sh)" >&2; exit 1; }
[ -d "$here/node_modules/kubernetes-models" ] ||
  { echo "deploy-test: no validator in tests/deploy/node_modules (scripts/install-deps.sh)" >&2; exit 1; }
echo "deploy-test: $(kubectl version --client 2>/dev/null | head -n 1)"

render() {  # render DIR NAME: kubectl kustomize DIR > $out/NAME.yaml, warnings shown
  kubectl kustomize "$root/$1" >"$out/$2.yaml" 2>"$out/$2.err" ||
    { cat "$out/$2.err" >&2; echo "deploy-test: kubectl kustomize $1 failed" >&2; exit 1; }
  grep -v "^# Warning: '\(bases\|patchesStrategicMerge\)' is deprecated" "$out/$2.err" >&2 || true
  echo "deploy-test: kubectl kustomize $1: $(grep -c '^kind:' "$out/$2.yaml") objects"
}
render deploy base
render deploy/overlays/embedded embedded

node "$here/check-manifests.mjs" --version "$version" --replicas 2 --driver postgres "$out/base.yaml"
node "$here/check-manifests.mjs" --version "$version" --replicas 1 --driver sqlite "$out/embedded.yaml"

# `extract` loads and validates the whole configuration before it reads its (empty) input.
for config in deploy/base/config.yaml deploy/overlays/embedded/config.yaml; do
  "$binary" extract --config="$root/$config" </dev/null ||
    { echo "deploy-test: the processor refuses $config" >&2; exit 1; }
  echo "deploy-test: $config loads"
done
echo "deploy-test: passed"
