#!/usr/bin/env bash
# make kind-up: a kind cluster (k8s/kind/cluster.yaml) with Envoy Gateway (Gateway API
# implementation, GatewayClass "eg") and kube-prometheus-stack (Prometheus Operator,
# Prometheus, Grafana) installed, plus the platform namespace.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
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
