#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the integration tests ("envtest"-style)
# from the Go modules pinned in tests/controlplane/go.mod:
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes/cmd/...)
#   kwok                                                     (sigs.k8s.io/kwok/cmd/kwok)
# into <repo>/.cache/k8s/bin/, and copies CRDs out of the module cache into
# <repo>/.cache/k8s/crds/{gateway-api,prometheus-operator}/ and kwok's Stage configs
# into <repo>/.cache/k8s/kwok/stages.yaml.
#
# Idempotent: a binary is rebuilt only when it is missing or its stamp file
# (<bin>.stamp: package@version, Go version, ldflags) differs.
# Build times go to <cache>/build_times.json (git-ignored); set BUILD_TIMES to record them
# elsewhere, e.g. BUILD_TIMES=bench/results/controlplane_build.json for the benchmark table.
#
# Environment:
#   GO            go command (default: go on PATH, else /usr/local/go/bin/go)
#   K8S_CACHE     output folder (default: <repo>/.cache/k8s)
#   FORCE=1       rebuild everything
#   ONLY="a b"    build only these binaries (names as above)
#   NICE          niceness for go build (default 10)
#   BUILD_TIMES   where build times are written (default: <cache>/build_times.json)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${K8S_CACHE:-$repo/.cache/k8s}"
bin="$cache/bin"
crds="$cache/crds"
results="${BUILD_TIMES:-$cache/build_times.json}"

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod -buildvcs=false"
export CGO_ENABLED=0
nice_level="${NICE:-10}"
prom_operator_version="${PROM_OPERATOR_VERSION:-v0.85.0}"

mkdir -p "$bin" "$crds" "$(dirname "$results")"
cd "$here"

# one build at a time (tests may call this while a developer runs it by hand)
exec 9>"$cache/.build.lock"
if ! flock -n 9; then
  echo "another build.sh holds $cache/.build.lock; waiting ..."
  flock 9
fi

go_version="$("$GO" env GOVERSION)"
mod_version() { "$GO" list -m -f '{{.Version}}' "$1"; }
k8s_version="$(mod_version k8s.io/kubernetes)"
kwok_version="$(mod_version sigs.k8s.io/kwok)"
gateway_version="$(mod_version sigs.k8s.io/gateway-api)"
k8s_minor="${k8s_version#v1.}"
k8s_minor="${k8s_minor%%.*}"

kube_ldflags="-s -w"
kube_ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8s_version"
kube_ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=$k8s_minor"
kube_ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
kube_ldflags+=" -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z"
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok_version#v}"
kwok_ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${k8s_version#v}"

# Cold = the Go build cache was (nearly) empty when this run started. Later binaries in
# a cold run reuse packages compiled for earlier ones, as on any fresh machine.
gocache="$("$GO" env GOCACHE)"
gocache_mb=0
if [[ -d "$gocache" ]]; then gocache_mb="$(du -sm "$gocache" 2>/dev/null | cut -f1)"; fi
if (( gocache_mb < 200 )); then run_kind=cold; else run_kind=warm; fi

echo "control plane: kubernetes $k8s_version, kwok $kwok_version, gateway-api $gateway_version," \
  "$go_version, $(nproc) cores, Go build cache ${gocache_mb} MB ($run_kind)"

# name|package|ldflags ; kube-apiserver first: it is by far the longest build.
targets=(
  "kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver|$kube_ldflags"
  "kube-controller-manager|k8s.io/kubernetes/cmd/kube-controller-manager|$kube_ldflags"
  "kube-scheduler|k8s.io/kubernetes/cmd/kube-scheduler|$kube_ldflags"
  "kwok|sigs.k8s.io/kwok/cmd/kwok|$kwok_ldflags"
)

timings=()   # "name seconds status"
for t in "${targets[@]}"; do
  IFS='|' read -r name pkg ldflags <<<"$t"
  if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then continue; fi
  if [[ "$pkg" == sigs.k8s.io/kwok/* ]]; then ver="$kwok_version"; else ver="$k8s_version"; fi
  stamp="$pkg@$ver $go_version ldflags=[$ldflags]"
  if [[ -z "${FORCE:-}" && -x "$bin/$name" && -f "$bin/$name.stamp" ]] \
     && [[ "$(cat "$bin/$name.stamp")" == "$stamp" ]]; then
    echo "  $name: up to date ($pkg@$ver)"
    timings+=("$name 0 skipped")
    continue
  fi
  echo "  $name: building $pkg@$ver ..."
  start="$(date +%s.%N)"
  nice -n "$nice_level" "$GO" build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"
  end="$(date +%s.%N)"
  mv -f "$bin/$name.tmp" "$bin/$name"
  printf '%s' "$stamp" >"$bin/$name.stamp"
  secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
  echo "  $name: built in ${secs}s"
  timings+=("$name $secs built")
done

# --- CRDs out of the module cache -------------------------------------------------
gw_dir="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"
if [[ -z "$gw_dir" || ! -d "$gw_dir" ]]; then
  "$GO" mod download sigs.k8s.io/gateway-api
  gw_dir="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)"
fi
mkdir -p "$crds/gateway-api"
rm -f "$crds/gateway-api/"*.yaml
cp "$gw_dir"/config/crd/standard/*.yaml "$crds/gateway-api/"
chmod u+w "$crds/gateway-api/"*.yaml
printf '%s\n' "$gateway_version" >"$crds/gateway-api/VERSION"
echo "  gateway-api $gateway_version standard CRDs -> $crds/gateway-api ($(find "$crds/gateway-api" -name '*.yaml' | wc -l) files)"

# kwok >= 0.6 needs Stage configs; use the same set as `kwokctl` (fast node + lease
# heartbeat, fast pod lifecycle) from the kwok module, concatenated into one file.
kwok_dir="$("$GO" list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
mkdir -p "$cache/kwok"
{
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$kwok_dir/kustomize/stage/$f"
  done
} >"$cache/kwok/stages.yaml.tmp"
mv -f "$cache/kwok/stages.yaml.tmp" "$cache/kwok/stages.yaml"
echo "  kwok $kwok_version stages -> $cache/kwok/stages.yaml"

# prometheus-operator CRDs (optional): not a go.mod requirement (its module graph is
# large), just `go mod download` of the module zip, which includes example/.
prom_dst="$crds/prometheus-operator"
if [[ ! -f "$prom_dst/VERSION" || "$(cat "$prom_dst/VERSION")" != "$prom_operator_version" ]]; then
  prom_dir="$("$GO" mod download -json "github.com/prometheus-operator/prometheus-operator@$prom_operator_version" 2>/dev/null \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' || true)"
  if [[ -n "$prom_dir" && -d "$prom_dir/example/prometheus-operator-crd" ]]; then
    mkdir -p "$prom_dst"
    rm -f "$prom_dst/"*.yaml
    cp "$prom_dir"/example/prometheus-operator-crd/*.yaml "$prom_dst/"
    chmod u+w "$prom_dst/"*.yaml
    printf '%s\n' "$prom_operator_version" >"$prom_dst/VERSION"
    echo "  prometheus-operator $prom_operator_version CRDs -> $prom_dst"
  else
    echo "  prometheus-operator $prom_operator_version CRDs: not available from the module proxy, skipped" >&2
  fi
else
  echo "  prometheus-operator $prom_operator_version CRDs: up to date"
fi

# --- build times -> $results (default .cache/k8s/build_times.json) ---------------------------
python3 - "$results" "$run_kind" "$k8s_version" "$kwok_version" "$go_version" "$(nproc)" "$gocache_mb" "${timings[@]}" <<'PY'
import datetime, json, os, sys

path, kind, k8s, kwok, gover, cpus, cache_mb, *rows = sys.argv[1:]
try:
    with open(path) as f:
        data = json.load(f)
except (OSError, ValueError):
    data = {}
data.update({
    "benchmark": "controlplane_build",
    "unit": "seconds per binary (go build -trimpath, CGO_ENABLED=0, nice 10)",
    "kubernetes_version": k8s, "kwok_version": kwok, "go_version": gover, "cpus": int(cpus),
})
now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
last = {"kind": kind, "go_build_cache_mb_at_start": int(cache_mb), "at": now, "binaries": {}}
built = {}
for row in rows:
    name, secs, status = row.split()
    last["binaries"][name] = {"seconds": float(secs), "status": status}
    if status == "built":
        built[name] = float(secs)
if built:
    entry = data.setdefault(kind, {"binaries": {}})
    entry["binaries"].update(built)
    entry["at"] = now
    entry["go_build_cache_mb_at_start"] = int(cache_mb)
data["last_run"] = last
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")
PY
echo "build times -> ${results#"$repo"/}"
