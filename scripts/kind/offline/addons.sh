#!/usr/bin/env bash
# The offline profile's stand-ins for what `make kind-up` installs from registries online
# (docs/kind-offline.md), into the kind cluster $CLUSTER_NAME (context $KUBE_CONTEXT):
#   - Gateway API CRDs (standard channel) from the sigs.k8s.io/gateway-api Go module, at
#     the version Traefik's go.mod requires;
#   - Traefik (scripts/gateway/build-traefik.sh) with its kubernetesgateway provider and
#     GatewayClass "traefik" (instead of Envoy Gateway);
#   - Prometheus from Debian's package (creditrisk/prometheus of `make images`) scraping the
#     pods' prometheus.io annotations, with the chart's alert rules (instead of
#     kube-prometheus-stack);
#   - metrics-server from its Go module, so the HPAs act on real CPU;
#   - kube-router's firewall controller from its Go module, so the chart's NetworkPolicies
#     are enforced (the ptp CNI of scripts/kind/offline/cni.sh enforces none; netpol.sh
#     says why not kube-network-policies).
# Images are built on $IMAGE_REPO/base:$IMAGE_TAG and loaded with `kind load`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/kind/common.sh
source "$here/../common.sh"
require_tools kind kubectl helm go python3

addons="$here/addons"
base="$IMAGE_REPO/base:$IMAGE_TAG"
traefik_image="$IMAGE_REPO/traefik:$IMAGE_TAG"
metrics_image="$IMAGE_REPO/metrics-server:$IMAGE_TAG"
prometheus_image="$IMAGE_REPO/prometheus:$IMAGE_TAG"
netpol_image="$IMAGE_REPO/kube-router:$IMAGE_TAG"
export DOCKER_BUILDKIT=0
kc() { kubectl --context "$KUBE_CONTEXT" "$@"; }

# kind-up runs before `make images`: on a fresh machine build the two images needed here
# (the base and Prometheus; `make images` then finds their layers cached). IMAGES=" ":
# common.sh replaces an empty IMAGES by the default four
if ! docker image inspect "$base" >/dev/null 2>&1 || ! docker image inspect "$prometheus_image" >/dev/null 2>&1; then
  log "building $base and $prometheus_image first (scripts/kind/images.sh)"
  IMAGES=" " SUPPORT_IMAGES=prometheus nice -n 19 bash "$REPO_ROOT/scripts/kind/images.sh"
fi

# build IMAGE DOCKERFILE BINARY: the binary on the project's base image
build() {
  local image="$1" dockerfile="$2" binary="$3" ctx
  ctx="$(mktemp -d)"
  ln "$binary" "$ctx/" 2>/dev/null || cp "$binary" "$ctx/"
  log "building $image"
  nice -n 19 docker build --quiet --build-arg "BASE_IMAGE=$base" -f "$dockerfile" -t "$image" "$ctx" >/dev/null
  rm -rf "$ctx"
}
# Traefik's binary and source outside the checkout too, one folder per version
traefik_version="${TRAEFIK_VERSION:-v3.7.13}"
traefik_dir="$KIND_OFFLINE_CACHE/traefik-$traefik_version"  # set by ../common.sh
traefik_bin="$(nice -n 19 bash "$REPO_ROOT/scripts/gateway/build-traefik.sh" "$traefik_dir/bin" "$traefik_version" | tail -1)"
build "$traefik_image" "$addons/traefik.Dockerfile" "$traefik_bin"
metrics_bin="$(bash "$here/metrics-server.sh" | tail -1)"
build "$metrics_image" "$addons/metrics-server.Dockerfile" "$metrics_bin"
netpol_bin="$(bash "$here/netpol.sh" | tail -1)"
build "$netpol_image" "$addons/kube-router.Dockerfile" "$netpol_bin"
# one archive for all of them (shared base layers saved and imported once)
log "loading $traefik_image $metrics_image $netpol_image $prometheus_image $base into $CLUSTER_NAME"
kind load docker-image --name "$CLUSTER_NAME" \
  "$traefik_image" "$metrics_image" "$netpol_image" "$prometheus_image" "$base"

# Gateway API CRDs at the version Traefik is built against
traefik_mod="$traefik_dir/src/traefik/go.mod"
gw_version="${GATEWAY_API_VERSION:-}"
if [[ -z "$gw_version" && -f "$traefik_mod" ]]; then
  gw_version="$(awk '$1 == "sigs.k8s.io/gateway-api" {print $2; exit}' "$traefik_mod")"
fi
gw_version="${gw_version:-v1.6.1}"
gw_dir="$(go mod download -json "sigs.k8s.io/gateway-api@$gw_version" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
log "Gateway API $gw_version CRDs (standard channel)"
kc apply --server-side --force-conflicts -f "$gw_dir/config/crd/standard/" >/dev/null
kc wait --for=condition=Established crd --all --timeout=120s >/dev/null

log "Traefik (GatewayClass traefik)"
sed "s#IMAGE_TRAEFIK#$traefik_image#" "$addons/traefik.yaml" | kc apply -f - >/dev/null

log "metrics-server"
sed "s#IMAGE_METRICS_SERVER#$metrics_image#" "$addons/metrics-server.yaml" | kc apply -f - >/dev/null

log "NetworkPolicy agent (kube-router, firewall only)"
sed "s#IMAGE_NETPOL#$netpol_image#" "$addons/netpol.yaml" | kc apply -f - >/dev/null

log "Prometheus at $PROMETHEUS_URL, with the chart's alert rules"
kc create namespace "$MONITORING_NAMESPACE" --dry-run=client -o yaml | kc apply -f - >/dev/null
rules="$(mktemp)"
trap 'rm -f "$rules"' EXIT
# the groups of the chart's PrometheusRule, as a plain rule file
helm template "$RELEASE" "$REPO_ROOT/helm/creditrisk" -n "$NAMESPACE" \
  -f "$REPO_ROOT/scripts/kind/values-kind.yaml" --set metrics.prometheusRule.enabled=true \
  --show-only templates/monitoring/prometheusrule.yaml \
  | python3 -c 'import sys, yaml; print(yaml.safe_dump({"groups": yaml.safe_load(sys.stdin)["spec"]["groups"]}))' >"$rules"
kc -n "$MONITORING_NAMESPACE" create configmap prometheus-rules --from-file="creditrisk.yaml=$rules" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
kc -n "$MONITORING_NAMESPACE" create configmap prometheus-config --from-file="$addons/prometheus.yml" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
kc -n "$MONITORING_NAMESPACE" create configmap prometheus-pod-sd --from-file="$addons/pod_sd.py" \
  --dry-run=client -o yaml | kc apply -f - >/dev/null
sed -e "s#IMAGE_PROMETHEUS#$prometheus_image#" -e "s#IMAGE_BASE#$base#" "$addons/prometheus.yaml" \
  | kc apply -f - >/dev/null
kc -n "$MONITORING_NAMESPACE" rollout restart deployment/prometheus >/dev/null  # new config/rules

kc -n traefik rollout status deployment/traefik --timeout=5m
kc -n kube-system rollout status deployment/metrics-server --timeout=5m
kc -n kube-system rollout status daemonset/kube-router --timeout=5m
kc -n "$MONITORING_NAMESPACE" rollout status deployment/prometheus --timeout=5m
