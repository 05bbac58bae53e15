#!/usr/bin/env bash
# Diagnostics after a failed kind run: objects, events, rollouts and the logs of every pod.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out="${LOG_DIR:-$REPO_ROOT/.cache/kind-logs}"
mkdir -p "$out"
k() { kubectl --context "$KUBE_CONTEXT" "$@" 2>&1 || true; }
{
  k get nodes -o wide
  k -n "$NAMESPACE" get all,modelrollouts,httproutes,gateways,pvc,networkpolicies -o wide
  k -n "$NAMESPACE" get modelrollouts -o yaml
  k -n "$NAMESPACE" get events --sort-by=.lastTimestamp
  k -n envoy-gateway-system get all
} >"$out/cluster.txt"
for pod in $(k -n "$NAMESPACE" get pods -o name); do
  k -n "$NAMESPACE" logs "$pod" --all-containers --prefix --tail=2000 >"$out/${pod#pod/}.log"
  k -n "$NAMESPACE" describe "$pod" >"$out/${pod#pod/}.describe.txt"
done
log "diagnostics in $out"
cat "$out/cluster.txt" >&2
