#!/usr/bin/env bash
# make kind-up: a kind cluster with a Gateway API implementation and Prometheus, plus the
# platform namespace. Two profiles (KIND_PROFILE, see common.sh):
#   online:  k8s/kind/cluster.yaml on kindest/node, Envoy Gateway (GatewayClass "eg") and
#            kube-prometheus-stack (Prometheus Operator, Prometheus, Grafana), from registries;
#   offline: one node from the node image built here (make kind-node-image), Traefik
#            (GatewayClass "traefik"), a plain Prometheus and metrics-server, all built
#            here (scripts/kind/offline/addons.sh; docs/kind-offline.md).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
mkdir -p "$(dirname "$PROFILE_FILE")"

if [[ "$KIND_PROFILE" == offline ]]; then
  log "offline profile (no registry needed)"
  bash "$REPO_ROOT/scripts/kind/offline/runtime.sh"
  bash "$REPO_ROOT/scripts/kind/offline/node-image.sh" >/dev/null
  require_tools kind kubectl helm
  if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "cluster $CLUSTER_NAME exists"
  else
    log "creating cluster $CLUSTER_NAME from ${KIND_NODE_IMAGE:-the offline node image}"
    source "$REPO_ROOT/scripts/kind/offline/common.sh"  # NODE_IMAGE
    kind create cluster --name "$CLUSTER_NAME" --image "$NODE_IMAGE" \
      --config "$REPO_ROOT/scripts/kind/offline/kind-config.yaml"
  fi
  echo offline >"$PROFILE_FILE"
  KIND="$(command -v kind)" KUBECTL="$(command -v kubectl)" bash "$REPO_ROOT/scripts/kind/offline/cni.sh" "$CLUSTER_NAME"
  kubectl config use-context "$KUBE_CONTEXT" >/dev/null
  kubectl --context "$KUBE_CONTEXT" wait --for=condition=Ready node --all --timeout=180s
  kubectl --context "$KUBE_CONTEXT" -n kube-system rollout status deployment/coredns --timeout=180s
  bash "$REPO_ROOT/scripts/kind/offline/addons.sh"
  kubectl --context "$KUBE_CONTEXT" apply -f "$REPO_ROOT/k8s/namespace.yaml"
  log "ready: make images kind-load deploy"
  exit 0
fi
require_tools kind kubectl helm

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  log "cluster $CLUSTER_NAME exists"
else
  log "creating cluster $CLUSTER_NAME"
  image_args=()
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then image_args=(--image "$KIND_NODE_IMAGE"); fi
  kind create cluster --name "$CLUSTER_NAME" --config "$REPO_ROOT/k8s/kind/cluster.yaml" \
    "${image_args[@]}" --wait 5m
fi
echo online >"$PROFILE_FILE"
kubectl config use-context "$KUBE_CONTEXT" >/dev/null

log "Envoy Gateway $ENVOY_GATEWAY_VERSION (brings the Gateway API CRDs)"
helm upgrade --install eg oci://docker.io/envoyproxy/gateway-helm --version "$ENVOY_GATEWAY_VERSION" \
  --kube-context "$KUBE_CONTEXT" -n envoy-gateway-system --create-namespace --wait --timeout 10m
kubectl --context "$KUBE_CONTEXT" apply -f - <<'YAML'
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: eg
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
YAML

log "kube-prometheus-stack $KUBE_PROMETHEUS_STACK_VERSION (Prometheus at $PROMETHEUS_URL)"
helm repo add prometheus-community https://prometheus-community.github.io/helm-charts --force-update >/dev/null
helm upgrade --install kps prometheus-community/kube-prometheus-stack \
  --version "$KUBE_PROMETHEUS_STACK_VERSION" --kube-context "$KUBE_CONTEXT" \
  -n "$MONITORING_NAMESPACE" --create-namespace --wait --timeout 15m \
  --set fullnameOverride=kps \
  --set prometheus.prometheusSpec.scrapeInterval=5s \
  --set prometheus.prometheusSpec.evaluationInterval=15s \
  --set prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues=false \
  --set prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues=false \
  --set alertmanager.enabled=false \
  --set grafana.sidecar.dashboards.enabled=true \
  --set grafana.sidecar.dashboards.searchNamespace=ALL

kubectl --context "$KUBE_CONTEXT" apply -f "$REPO_ROOT/k8s/namespace.yaml"
log "ready: make images kind-load deploy"
