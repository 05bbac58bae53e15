#!/usr/bin/env bash
# metrics-server from its Go module (sigs.k8s.io/metrics-server), static, into
# $CACHE/bin/metrics-server (cached by a stamp). Prints the binary's path.
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

version="${METRICS_SERVER_VERSION:-v0.8.0}"
module=sigs.k8s.io/metrics-server
bin="$BIN/metrics-server"
stamp="$bin.stamp"
want="$module@$version $("$GO" env GOVERSION)"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$BIN"
t0="$(date +%s)"
log "building metrics-server $version (Go module)"
if ! GOBIN="$BIN" nice -n "$NICE" "$GO" install -trimpath -ldflags "-s -w" "$module/cmd/metrics-server@$version" >&2; then
  # go.mod with replace/exclude directives: build inside a copy of the module source
  dir="$("$GO" mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  work="$SRC/metrics-server"
  rm -rf "$work"
  mkdir -p "$SRC"
  cp -r "$dir" "$work"
  chmod -R u+w "$work"
  (cd "$work" && nice -n "$NICE" "$GO" build -mod=mod -trimpath -ldflags "-s -w" -o "$bin" ./cmd/metrics-server)
fi
printf '%s\n' "$want" >"$stamp"
printf 'metrics-server %s\t%ss\n' "$version" "$(( $(date +%s) - t0 ))" >>"$CACHE/times.txt"
echo "$bin"
