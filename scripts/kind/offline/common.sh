#!/usr/bin/env bash
# Settings shared by the offline kind node-image scripts (sourced, not run).
# Every version is overridable from the environment.
# shellcheck disable=SC2034  # variables are used by the scripts that source this file
set -euo pipefail

OFFLINE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$OFFLINE_DIR/../../.." && pwd)"
# Outside the checkout, so a fresh clone (CI: git clone, then .ci/run) reuses the binaries
# (kubelet, containerd, etcd, CoreDNS, kube-router, ... ≈ 40 min cold on 2 cores) and the
# rootfs: every artefact is keyed by content (module@version + Go version + flags, package
# list), so a change rebuilds it. Images are found in the Docker engine by their stamp label.
CACHE="${KIND_OFFLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/creditrisk-kind}"
BIN="$CACHE/bin"
SRC="$CACHE/src"
NICE="${NICE:-19}"

KIND_VERSION="${KIND_VERSION:-v0.33.0}"
# the local control plane's Kubernetes (tests/controlplane/go.mod pins it)
K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.4.2}"
CRI_TOOLS_VERSION="${CRI_TOOLS_VERSION:-v1.37.0}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.0}"        # kubeadm v1.37 default: etcd 3.7.0-0
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.6}" # kubeadm v1.37 default: coredns v1.14.6
PAUSE_VERSION="${PAUSE_VERSION:-3.10.2}"      # kubeadm v1.37 default
LOCAL_PATH_VERSION="${LOCAL_PATH_VERSION:-v0.0.30}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"

NODE_IMAGE="${KIND_NODE_IMAGE:-creditrisk/kind-node:$K8S_VERSION}"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export DOCKER_BUILDKIT=0

log() { printf '[kind-offline] %s\n' "$*" >&2; }
die() { printf '[kind-offline] error: %s\n' "$*" >&2; exit 1; }
