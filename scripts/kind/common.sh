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
export PROMETHEUS_URL="${PROMETHEUS_URL:-http://kps-prometheus.${MONITORING_NAMESPACE}:9090}"
export KUBE_CONTEXT="kind-${CLUSTER_NAME}"

log() { printf '\033[1m[kind]\033[0m %s\n' "$*" >&2; }
die() { printf '[kind] error: %s\n' "$*" >&2; exit 1; }

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
