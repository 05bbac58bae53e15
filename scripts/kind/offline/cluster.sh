#!/usr/bin/env bash
# A kind cluster from the offline node image, for checking that image (not yet the
# project's kind-up: see issue 14).
#
#   bash scripts/kind/offline/cluster.sh up      # runtime shim if needed, node image, cluster, CNI, wait
#   bash scripts/kind/offline/cluster.sh down
# Environment: KIND_CLUSTER_NAME (default kind-offline), KIND_NODE_IMAGE, KIND_CONFIG.
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cluster="${KIND_CLUSTER_NAME:-kind-offline}"
config="${KIND_CONFIG:-$OFFLINE_DIR/kind-config.yaml}"
kind_bin="$BIN/kind"
kubectl_bin="$BIN/kubectl"

case "${1:-up}" in
  down)
    [[ -x "$kind_bin" ]] || die "no kind binary in ${BIN#"$REPO_ROOT"/}"
    "$kind_bin" delete cluster --name "$cluster"
    ;;
  up)
    bash "$OFFLINE_DIR/runtime.sh"
    bash "$OFFLINE_DIR/node-image.sh" >/dev/null
    t0="$(date +%s)"
    if ! "$kind_bin" get clusters 2>/dev/null | grep -qx "$cluster"; then
      "$kind_bin" create cluster --name "$cluster" --image "$NODE_IMAGE" --config "$config" --retain
    fi
    KIND="$kind_bin" KUBECTL="$kubectl_bin" bash "$OFFLINE_DIR/cni.sh" "$cluster"
    kubeconfig="$(mktemp)"
    trap 'rm -f "$kubeconfig"' EXIT
    "$kind_bin" get kubeconfig --name "$cluster" >"$kubeconfig"
    kc() { "$kubectl_bin" --kubeconfig "$kubeconfig" "$@"; }
    kc wait --for=condition=Ready node --all --timeout=180s
    kc -n kube-system rollout status deployment/coredns --timeout=180s
    kc get nodes -o wide
    kc get pods -A -o wide
    log "cluster $cluster ready in $(( $(date +%s) - t0 ))s (kubeconfig: $kind_bin get kubeconfig --name $cluster)"
    ;;
  *) die "usage: cluster.sh up|down" ;;
esac
