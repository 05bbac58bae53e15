#!/usr/bin/env bash
# Shared settings and guards of the kind scripts (sourced, not run).
# Every setting can be overridden from the environment (or `make VAR=value ...`).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT
export CLUSTER_NAME="${CLUSTER_NAME:-creditrisk}"
export NAMESPACE="${NAMESPACE:-credit-risk}"
export RELEASE="${RELEASE:-creditrisk}"
export IMAGE_REPO="${IMAGE_REPO:-creditrisk}"
export IMAGE_TAG="${IMAGE_TAG:-dev}"
export IMAGES="${IMAGES:-inference batch trainer controller}"
export ENVOY_GATEWAY_VERSION="${ENVOY_GATEWAY_VERSION:-v1.5.0}"
export KUBE_PROMETHEUS_STACK_VERSION="${KUBE_PROMETHEUS_STACK_VERSION:-77.5.0}"
export MONITORING_NAMESPACE="${MONITORING_NAMESPACE:-monitoring}"
export KUBE_CONTEXT="kind-${CLUSTER_NAME}"

log() { printf '\033[1m[kind]\033[0m %s\n' "$*" >&2; }
die() { printf '[kind] error: %s\n' "$*" >&2; exit 1; }

# --- profile: online (registries: Envoy Gateway, kube-prometheus-stack, kindest/node) or
# offline (everything built here: docs/kind-offline.md). KIND_PROFILE=online|offline|auto;
# auto = the profile `make kind-up` recorded for this cluster, else offline when no
# registry answers (docker.io's registry API, TLS verified: a proxy's answer does not count).
PROFILE_FILE="$REPO_ROOT/.cache/kind/profile-$CLUSTER_NAME"
registry_answers() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time "${REGISTRY_PROBE_TIMEOUT:-10}" \
    https://registry-1.docker.io/v2/ 2>/dev/null || true)"
  [[ "$code" == 200 || "$code" == 401 ]]
}
KIND_PROFILE="${KIND_PROFILE:-auto}"
if [[ "$KIND_PROFILE" == auto && -f "$PROFILE_FILE" ]]; then KIND_PROFILE="$(cat "$PROFILE_FILE")"; fi
if [[ "$KIND_PROFILE" == auto ]]; then
  if registry_answers; then KIND_PROFILE=online; else KIND_PROFILE=offline; fi
fi
case "$KIND_PROFILE" in
  online)
    export GATEWAY_CLASS="${GATEWAY_CLASS:-eg}"
    export PROMETHEUS_URL="${PROMETHEUS_URL:-http://kps-prometheus.${MONITORING_NAMESPACE}:9090}"
    # the Service Envoy Gateway creates for the release's Gateway
    export GATEWAY_SVC_NAMESPACE="${GATEWAY_SVC_NAMESPACE:-envoy-gateway-system}"
    export GATEWAY_SVC_SELECTOR="${GATEWAY_SVC_SELECTOR:-gateway.envoyproxy.io/owning-gateway-namespace=$NAMESPACE,gateway.envoyproxy.io/owning-gateway-name=$RELEASE}"
    ;;
  offline)
    export GATEWAY_CLASS="${GATEWAY_CLASS:-traefik}"
    export PROMETHEUS_URL="${PROMETHEUS_URL:-http://prometheus.${MONITORING_NAMESPACE}:9090}"
    # one Traefik for every Gateway of class traefik (scripts/kind/offline/addons.sh)
    export GATEWAY_SVC_NAMESPACE="${GATEWAY_SVC_NAMESPACE:-traefik}"
    export GATEWAY_SVC_SELECTOR="${GATEWAY_SVC_SELECTOR:-app.kubernetes.io/name=traefik}"
    # kind, kubectl (same Kubernetes as the node image) built by make kind-node-image
    # (their cache lives outside the checkout, so fresh clones share it: offline/common.sh)
    export KIND_OFFLINE_CACHE="${KIND_OFFLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/creditrisk-kind}"
    export PATH="$KIND_OFFLINE_CACHE/bin:$PATH"
    ;;
  *) die "KIND_PROFILE must be online, offline or auto (got $KIND_PROFILE)" ;;
esac
export KIND_PROFILE
# chart values of the profile, on top of scripts/kind/values-kind.yaml
profile_values() {
  if [[ "$KIND_PROFILE" == offline ]]; then echo "$REPO_ROOT/scripts/kind/values-kind-offline.yaml"; fi
}

# Fail fast, before any slow step, when no Docker engine answers (a client alone is not enough).
require_docker() {
  command -v docker >/dev/null 2>&1 \
    || die "docker is not installed; these targets need a Docker engine (Docker Desktop, dockerd or colima)"
  if ! timeout "${DOCKER_PROBE_TIMEOUT:-10}" docker info >/dev/null 2>&1; then
    die "no Docker engine reachable (\`docker info\` failed); start Docker or set DOCKER_HOST, then retry"
  fi
}

require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH (kind: https://kind.sigs.k8s.io; helm + kubectl: make install)"
  done
}

# the Dockerfile of one image, relative to the repository root
dockerfile_of() {
  case "$1" in
    controller) echo "controller/Dockerfile" ;;
    inference | batch | trainer) echo "services/$1/Dockerfile" ;;
    *) die "unknown image $1" ;;
  esac
}

kubectl_ns() { kubectl --context "$KUBE_CONTEXT" -n "$NAMESPACE" "$@"; }
