#!/usr/bin/env bash
# Builds every binary the offline kind node image needs from Go modules (or C for pause)
# into ~/.cache/creditrisk-kind/bin/ (KIND_OFFLINE_CACHE). Idempotent: a binary is rebuilt only when its stamp
# (module@version + go version + flags) changed. Times go to $CACHE/times.txt.
#
#   bash scripts/kind/offline/binaries.sh            # all
#   ONLY="kubelet kind" bash scripts/kind/offline/binaries.sh
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mkdir -p "$BIN" "$SRC"
exec 9>"$CACHE/.binaries.lock"
flock 9
go_version="$("$GO" env GOVERSION)"
times="$CACHE/times.txt"

# module_dir MOD VER -> a writable copy of the module's source under $SRC
module_dir() {
  local mod="$1" ver="$2" dst dir
  dst="$SRC/${mod//\//_}@$ver"
  if [[ ! -f "$dst/go.mod" ]]; then
    dir="$("$GO" mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || die "go mod download $mod@$ver gave no folder"
    rm -rf "$dst.tmp"
    cp -r "$dir" "$dst.tmp"
    chmod -R u+w "$dst.tmp"
    mv "$dst.tmp" "$dst"
  fi
  printf '%s\n' "$dst"
}

# k8s_dir -> a build-only module requiring k8s.io/kubernetes at $K8S_VERSION (its
# replace directives for the staging modules come from tests/controlplane/go.mod)
k8s_dir() {
  local dst="$SRC/k8s-build@$K8S_VERSION"
  if [[ ! -f "$dst/go.mod" ]]; then
    mkdir -p "$dst"
    sed 's|^module .*|module creditrisk.local/kind-offline/k8s|' \
      "$REPO_ROOT/tests/controlplane/go.mod" >"$dst/go.mod"
    cp "$REPO_ROOT/tests/controlplane/go.sum" "$dst/go.sum"
    printf 'package k8s\n' >"$dst/doc.go"
  fi
  grep -q "k8s.io/kubernetes $K8S_VERSION" "$dst/go.mod" \
    || die "tests/controlplane/go.mod does not pin k8s.io/kubernetes $K8S_VERSION"
  printf '%s\n' "$dst"
}

# wrapper_dir MOD VER -> a build-only module that requires MOD@VER, for modules whose own
# go.mod replaces siblings by relative paths that a module zip does not hold (etcd)
wrapper_dir() {
  local mod="$1" ver="$2" dst
  dst="$SRC/wrap_${mod//\//_}@$ver"
  if [[ ! -f "$dst/go.sum" ]]; then
    rm -rf "$dst"; mkdir -p "$dst"
    printf 'module creditrisk.local/kind-offline/wrap\n\ngo 1.26\n\nrequire %s %s\n' "$mod" "$ver" >"$dst/go.mod"
    printf 'package wrap\n\nimport _ "%s"\n' "$mod" >"$dst/tools.go"
    sed -i '1i //go:build tools\n' "$dst/tools.go"
    (cd "$dst" && "$GO" mod tidy >/dev/null)
  fi
  printf '%s\n' "$dst"
}

# build NAME DIR PKG "FLAGS..." STAMP
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4" tags="$5" stamp start end secs
  stamp="$pkg $go_version ldflags=[$ldflags] tags=[$tags] dir=$(basename "$dir")"
  if [[ -x "$BIN/$name" && -f "$BIN/$name.stamp" && "$(cat "$BIN/$name.stamp")" == "$stamp" ]]; then
    log "$name: up to date"
    return 0
  fi
  log "$name: building $pkg in $(basename "$dir") ..."
  start="$(date +%s.%N)"
  (cd "$dir" && nice -n "$NICE" "$GO" build -mod=mod -buildvcs=false -trimpath \
    -tags "$tags" -ldflags "$ldflags" -o "$BIN/$name.tmp" "$pkg")
  end="$(date +%s.%N)"
  mv -f "$BIN/$name.tmp" "$BIN/$name"
  printf '%s' "$stamp" >"$BIN/$name.stamp"
  secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
  log "$name: built in ${secs}s"
  printf '%s %s %s\n' "$(date -u +%FT%TZ)" "$name" "$secs" >>"$times"
}

want() { [[ -z "${ONLY:-}" || " $ONLY " == *" $1 "* ]]; }

k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
kube_ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION"
kube_ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor"
kube_ld+=" -X k8s.io/component-base/version.gitTreeState=clean"
kube_ld+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"

if want kind; then
  d="$(module_dir sigs.k8s.io/kind "$KIND_VERSION")"
  build kind "$d" . "-s -w" ""
fi
for c in kubelet kubeadm kubectl kube-proxy kube-apiserver kube-controller-manager kube-scheduler; do
  if want "$c"; then
    # the local control plane's binaries are the same build (same module, flags, Go)
    if [[ "$c" == kube-apiserver || "$c" == kube-controller-manager || "$c" == kube-scheduler ]] \
       && [[ -x "$REPO_ROOT/.cache/k8s/bin/$c" && ! -x "$BIN/$c" ]] \
       && grep -q "@$K8S_VERSION " "$REPO_ROOT/.cache/k8s/bin/$c.stamp" 2>/dev/null; then
      log "$c: reusing .cache/k8s/bin/$c (make controlplane, same module and flags)"
      cp "$REPO_ROOT/.cache/k8s/bin/$c" "$BIN/$c"
      printf '%s' "k8s.io/kubernetes/cmd/$c $go_version ldflags=[$kube_ld] tags=[] dir=k8s-build@$K8S_VERSION" >"$BIN/$c.stamp"
      continue
    fi
    build "$c" "$(k8s_dir)" "k8s.io/kubernetes/cmd/$c" "$kube_ld" ""
  fi
done
if want containerd || want containerd-shim-runc-v2 || want ctr; then
  d="$(module_dir github.com/containerd/containerd/v2 "$CONTAINERD_VERSION")"
  ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
  ld+=" -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
  tags="no_btrfs no_devmapper no_zfs"
  for c in containerd containerd-shim-runc-v2 ctr; do
    want "$c" || want containerd || continue
    build "$c" "$d" "./cmd/$c" "$ld" "$tags"
  done
fi
if want crictl; then
  d="$(module_dir sigs.k8s.io/cri-tools "$CRI_TOOLS_VERSION")"
  build crictl "$d" ./cmd/crictl "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" ""
fi
if want etcd; then
  d="$(wrapper_dir go.etcd.io/etcd/server/v3 "$ETCD_VERSION")"
  build etcd "$d" go.etcd.io/etcd/server/v3 "-s -w" ""
fi
if want coredns; then
  d="$(module_dir github.com/coredns/coredns "$COREDNS_VERSION")"
  build coredns "$d" . "-s -w" ""
fi
if want local-path-provisioner; then
  d="$(module_dir github.com/rancher/local-path-provisioner "$LOCAL_PATH_VERSION")"
  build local-path-provisioner "$d" . "-s -w -X main.VERSION=$LOCAL_PATH_VERSION" ""
fi
if want pause; then
  # a static "pause": sleeps until SIGINT/SIGTERM, reaps children (what the sandbox needs)
  stamp="pause.c $PAUSE_VERSION $(sha256sum "$OFFLINE_DIR/pause.c" | cut -c1-16)"
  if [[ -x "$BIN/pause" && "$(cat "$BIN/pause.stamp" 2>/dev/null)" == "$stamp" ]]; then
    log "pause: up to date"
  else
    gcc -Os -static -DVERSION="\"$PAUSE_VERSION\"" -o "$BIN/pause" "$OFFLINE_DIR/pause.c"
    strip "$BIN/pause"
    printf '%s' "$stamp" >"$BIN/pause.stamp"
    log "pause: built"
  fi
fi
log "binaries in ${BIN#"$REPO_ROOT"/}"
